"""Benchmark: the engine's own cost as the node grows, for one or more engine checkouts side by side.

  sudo .venv/bin/python benchmarks/engine.py [--engines before=/tmp/old-checkout,after=.] [--cases ...]

In-process (no Ansible start-up): each engine runs in its own Python process (a worker importing
that checkout's collection) inside fresh network namespaces (prefix nnnet-bench-, removed after).
For every case and engine, measured in the same run:
  create   converge() of the whole state from an empty namespace
  rerun    converge() again (changed=0): read what is managed, plan, nothing to do
  empty    converge() with nothing declared (the fixed cost of a call)
  start    in the fresh worker, before the rest: importing the engine and a first converge() with
           nothing declared on the empty namespace (the start-up a module run pays; whatever the
           engine imports later, e.g. pyroute2 when something changes, is in that step's time)
  floor    `ip -batch` of the same objects in another fresh namespace
Cases: scale10 / scale100 / scale1000 (N links, 10 addresses and 10 routes each), routes10k (10 links,
100 addresses, 10,000 routes), mixed (100 links half macvlans, 1000 addresses a quarter IPv6, 1000
routes a fifth in table 300), purge (100 links: create 1000 addresses, then purge them all).
Not a pass/fail test: it prints numbers and ratios.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from nodestate import ip_batch, node_state  # noqa: E402

CASES = {
    'scale10': (10, 100, 100, 'plain'),
    'scale100': (100, 1000, 1000, 'plain'),
    'scale1000': (1000, 10000, 10000, 'plain'),
    'routes10k': (10, 100, 10000, 'plain'),
    'mixed': (100, 1000, 1000, 'mixed'),
    'purge': (100, 1000, 0, 'plain'),
}
TIMEOUT = 300


def worker(root, ns, spec_file, case):
    """Runs in its own process: times the engine of checkout `root`."""
    sys.path.insert(0, os.path.join(root, '.build', 'collections'))
    t0 = time.perf_counter()
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.network import converge
    converge({}, netns=ns)
    out = {'start': time.perf_counter() - t0}     # what a module run pays first: the import, a first call
    with open(spec_file) as f:
        spec = json.load(f)

    def timed(name, s, **kw):
        t0 = time.perf_counter()
        r = converge(json.loads(json.dumps(s)), netns=ns, **kw)
        out[name] = time.perf_counter() - t0
        return r

    if case == 'purge':
        links = {'links': spec['links']}
        converge(json.loads(json.dumps(links)), netns=ns)
        timed('create', spec)
        r = timed('purge', links, purge=['addresses'])
        out['purged'] = len(r['operations'])
    else:
        timed('create', spec)
        r = timed('rerun', spec)
        assert not r['changed'], r['operations'][:5]
        timed('empty', {})
    print(json.dumps(out))


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


class Namespace:
    def __enter__(self):
        self.name = 'nnnet-bench-%s' % uuid.uuid4().hex[:6]
        run(['ip', 'netns', 'add', self.name])
        return self.name

    def __exit__(self, *exc):
        subprocess.run(['ip', 'netns', 'del', self.name], check=False)


def measure(case, engines, workdir):
    links, addrs, routes, shape = CASES[case]
    spec = node_state(links, addrs, routes, shape)
    spec_file = os.path.join(workdir, '%s.json' % case)
    with open(spec_file, 'w') as f:
        json.dump(spec, f)
    batch = os.path.join(workdir, '%s.batch' % case)
    with open(batch, 'w') as f:
        f.write(ip_batch(spec))
    with Namespace() as ns:
        t0 = time.perf_counter()
        run(['ip', '-n', ns, '-batch', batch])
        floor = time.perf_counter() - t0
    res = {}
    for name, root in engines:
        with Namespace() as ns:
            try:
                p = run([sys.executable, os.path.abspath(__file__), '--worker', root, ns, spec_file, case], timeout=TIMEOUT)
                res[name] = json.loads(p.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                res[name] = {'timeout': TIMEOUT}
            except subprocess.CalledProcessError as e:
                res[name] = {'error': e.stderr[-500:]}
    return floor, res


def main():
    if len(sys.argv) > 1 and sys.argv[1] == '--worker':
        return worker(*sys.argv[2:6])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--engines', default='this=%s' % ROOT, help='name=checkout,... (each with scripts/env.sh run once)')
    ap.add_argument('--cases', default=','.join(CASES))
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit('needs root (network namespaces)')
    engines = [e.split('=', 1) for e in args.engines.split(',')]
    workdir = tempfile.mkdtemp(prefix='nnnet-bench-')
    print('nproc=%d loadavg=%s' % (os.cpu_count(), ' '.join(open('/proc/loadavg').read().split()[:3])))
    heads = ['%s create (x floor) | %s rerun | %s empty | %s start' % (n, n, n, n) for n, dummy in engines]
    print('| case | objects | floor (ip -batch) | ' + ' | '.join(heads) + ' |')
    print('|---|---|---|' + '---|---|---|---|' * len(engines))
    for case in args.cases.split(','):
        floor, res = measure(case, engines, workdir)
        links, addrs, routes, shape = CASES[case]
        cells = []
        for name, dummy in engines:
            r = res[name]
            if 'create' not in r:
                cells.append('%s | | | ' % ('> %d s' % r['timeout'] if 'timeout' in r else 'error: %s' % r['error'][-200:].replace('\n', ' ')))
            elif case == 'purge':
                cells.append('%.2f s | purge %s: %.2f s (%.1fx create) | | %.3f s' % (
                    r['create'], r.get('purged'), r['purge'], r['purge'] / r['create'], r['start']) if 'purge' in r
                    else '%.2f s | | | %.3f s' % (r['create'], r['start']))
            else:
                cells.append('%.2f s (%.1fx) | %.3f s | %.3f s | %.3f s' % (r['create'], r['create'] / floor, r['rerun'], r['empty'], r['start']))
        print('| %s | %d+%d+%d %s | %.2f s | %s |' % (case, links, addrs, routes, shape, floor, ' | '.join(cells)), flush=True)
    subprocess.run(['rm', '-rf', workdir], check=False)


if __name__ == '__main__':
    main()
