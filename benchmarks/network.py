"""Benchmark: a node state applied three ways, in fresh network namespaces, medians and ratios.

  sudo .venv/bin/python benchmarks/network.py [--reps N] [--per-object-reps N] [--sizes small,large]
      [--shape plain|mixed] [--engines before=/tmp/old-checkout,after=.]

Sizes: small = 10 links (veth pairs) + 100 addresses + 100 routes; large = 100 + 1000 + 1000.
For each size, measured in the same run:
  one-task      ansible-playbook with ONE seed.nodenet.network task, from an empty namespace
  rerun         the same playbook again (idempotent: changed=0); plus the module's own work
                (the engine's converge() in-process: read what is managed, plan, no change)
  src one-task, src rerun
                the same, with the node state in a YAML file given as the task's `src` (read by the
                action plugin on the controller: no templating of the 2100 entries)
  per-object    one task per object with the single-kind modules (link, address, route);
                small size only (it grows linearly)
  floor         `ip -batch` of the same objects + a playbook with one task that does nothing
                (ansible.builtin.ping: a module round trip, no work)
--engines runs one-task and rerun for each checkout (each with scripts/env.sh run once) in the same
run, against the same floor, so an engine change is measured before and after side by side.
--shape mixed: half the links macvlans, a quarter of the addresses IPv6, a fifth of the routes in table 300.
Not a pass/fail test: it prints numbers. It works only inside namespaces it creates
(prefix nnnet-bench-) and removes them. Needs root and the project's .venv (scripts/setup).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(ROOT, '.venv', 'bin')
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
sys.path.insert(0, HERE)
sys.path.insert(0, COLLECTIONS)

import yaml  # noqa: E402

from nodestate import ip_batch, node_state  # noqa: E402

DUMPER = getattr(yaml, 'CSafeDumper', yaml.SafeDumper)

SIZES = {'small': (10, 100, 100), 'large': (100, 1000, 1000)}

ONE_TASK = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - seed.nodenet.network:
        netns: "{{ ns }}"
        links: "{{ spec.links }}"
        addresses: "{{ spec.addresses }}"
        routes: "{{ spec.routes }}"
'''
SRC_TASK = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - seed.nodenet.network:
        netns: "{{ ns }}"
        src: "{{ node_file }}"
'''
PER_OBJECT = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - seed.nodenet.link: "{{ item | combine({'netns': ns}) }}"
      loop: "{{ spec.links }}"
    - seed.nodenet.address: "{{ item | combine({'netns': ns}) }}"
      loop: "{{ spec.addresses }}"
    - seed.nodenet.route: "{{ item | combine({'netns': ns}) }}"
      loop: "{{ spec.routes }}"
'''
EMPTY = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - seed.nodenet.network:
        netns: "{{ ns }}"
'''
NOOP = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.ping:
'''


def sh(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True)


class Namespace:
    def __enter__(self):
        self.name = 'nnnet-bench-%s' % uuid.uuid4().hex[:6]
        sh('ip', 'netns', 'add', self.name)
        return self.name

    def __exit__(self, *exc):
        subprocess.run(['ip', 'netns', 'del', self.name], check=False)


def cpu():
    """CPU seconds (user + system) of the finished child processes: ansible-playbook, its workers and
    the module, steadier than wall time on a loaded machine."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


LAST = {}


def playbook(workdir, text, ns, spec_file, collections=COLLECTIONS, extra=()):
    path = os.path.join(workdir, 'play.yml')
    with open(path, 'w') as f:
        f.write(text)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1',
               ANSIBLE_FORKS='1', PATH=VENV + os.pathsep + os.environ['PATH'])
    t0, c0 = time.perf_counter(), cpu()
    p = subprocess.run([os.path.join(VENV, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', path,
                        '-e', 'ns=%s' % ns, '-e', '@%s' % spec_file] + list(extra), capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - t0
    LAST['cpu'] = cpu() - c0
    if p.returncode != 0:
        raise SystemExit('playbook failed:\n%s\n%s' % (p.stdout[-3000:], p.stderr[-2000:]))
    changed = int(p.stdout.rsplit('changed=', 1)[1].split()[0])
    return elapsed, changed


RERUN = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.network import converge
spec = json.load(open(sys.argv[3]))['spec']
t0 = time.perf_counter()
r = converge(spec, netns=sys.argv[2])
print(time.perf_counter() - t0)
assert not r['changed'], r['operations'][:5]
"""


def engine_rerun(spec_file, ns, collections=COLLECTIONS):
    """The module's own work on a rerun: the engine of that checkout in its own process."""
    p = subprocess.run([sys.executable, '-c', RERUN, collections, ns, spec_file], capture_output=True, text=True, check=True)
    return float(p.stdout.strip().splitlines()[-1])


def has_src(collections):
    """Whether that checkout's network module takes src (its action plugin)."""
    return os.path.exists(os.path.join(collections, 'ansible_collections', 'seed', 'nodenet', 'plugins', 'action', 'network.py'))


def count(ns):
    links = json.loads(sh('ip', '-j', '-n', ns, 'link').stdout)
    addrs = json.loads(sh('ip', '-j', '-n', ns, 'addr').stdout)
    routes = json.loads(sh('ip', '-j', '-n', ns, 'route').stdout)
    return (len(links), sum(1 for l in addrs for a in l.get('addr_info', []) if a.get('scope') == 'global'),
            sum(1 for r in routes if r.get('gateway')))


def measure(size, reps, per_object_reps, workdir, engines, shape):
    spec = node_state(*SIZES[size], shape=shape)
    spec_file = os.path.join(workdir, 'spec-%s.json' % size)
    with open(spec_file, 'w') as f:
        json.dump({'spec': spec}, f)
    # the same sections as a node file for src (every playbook gets the same -e @spec_file, so the
    # rows differ only in how the task is given its state)
    node_file = os.path.join(workdir, 'node-%s.yml' % size)
    with open(node_file, 'w') as f:
        f.write(yaml.dump(dict((k, spec[k]) for k in ('links', 'addresses', 'routes')), Dumper=DUMPER))
    src = ('-e', 'node_file=%s' % node_file)
    batch = os.path.join(workdir, 'batch-%s' % size)
    with open(batch, 'w') as f:
        f.write(ip_batch(spec))
    res = {'ip-batch': [], 'noop-playbook': [], 'per-object': []}
    expect = None
    for dummy in range(reps):
        for name, coll in engines:
            with Namespace() as ns:
                t, changed = playbook(workdir, ONE_TASK, ns, spec_file, coll)
                assert changed == 1
                res.setdefault(name + 'one-task', []).append(t)
                got = count(ns)
                t, changed = playbook(workdir, ONE_TASK, ns, spec_file, coll)
                assert changed == 0, 'the re-run changed something'
                res.setdefault(name + 'rerun', []).append(t)
                res.setdefault(name + 'rerun cpu', []).append(LAST['cpu'])
                res.setdefault(name + 'rerun-module-work', []).append(engine_rerun(spec_file, ns, coll))
                res.setdefault(name + 'empty-task', []).append(playbook(workdir, EMPTY, ns, spec_file, coll)[0])
                res.setdefault(name + 'empty-task cpu', []).append(LAST['cpu'])
                if has_src(coll):
                    t, changed = playbook(workdir, SRC_TASK, ns, spec_file, coll, src)
                    assert changed == 0, 'the src re-run changed something'
                    res.setdefault(name + 'src rerun', []).append(t)
                    res.setdefault(name + 'src rerun cpu', []).append(LAST['cpu'])
            if has_src(coll):
                with Namespace() as ns:
                    t, changed = playbook(workdir, SRC_TASK, ns, spec_file, coll, src)
                    assert changed == 1 and count(ns) == got, 'src made something else than the task: %s' % (count(ns),)
                    res.setdefault(name + 'src one-task', []).append(t)
        with Namespace() as ns:
            t0 = time.perf_counter()
            sh('ip', '-n', ns, '-batch', batch)
            res['ip-batch'].append(time.perf_counter() - t0)
            expect = count(ns)
            assert got == expect, 'the module and ip -batch made different things: %s vs %s' % (got, expect)
        with Namespace() as ns:
            res['noop-playbook'].append(playbook(workdir, NOOP, ns, spec_file)[0])
    if size == 'small':
        for dummy in range(per_object_reps):
            with Namespace() as ns:
                res['per-object'].append(playbook(workdir, PER_OBJECT, ns, spec_file)[0])
                assert count(ns) == expect
    return res, expect


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--per-object-reps', type=int, default=3)
    ap.add_argument('--sizes', default='small,large')
    ap.add_argument('--shape', default='plain', choices=['plain', 'mixed'])
    ap.add_argument('--engines', default='', help='name=checkout,...; default: this checkout')
    args = ap.parse_args()
    engines = [('', COLLECTIONS)]
    if args.engines:
        engines = [(n + ' ', os.path.join(os.path.abspath(r), '.build', 'collections'))
                   for n, r in (e.split('=', 1) for e in args.engines.split(','))]
    if os.geteuid() != 0:
        raise SystemExit('needs root (network namespaces)')
    workdir = tempfile.mkdtemp(prefix='nnnet-bench-')
    med = statistics.median
    print('nproc=%d loadavg=%s reps=%d' % (os.cpu_count(), open('/proc/loadavg').read().split()[:3], args.reps))
    for size in args.sizes.split(','):
        res, objs = measure(size, args.reps, args.per_object_reps, workdir, engines, args.shape)
        m = dict((k, med(v)) for k, v in res.items() if v)
        floor = m['ip-batch'] + m['noop-playbook']
        print('\n%s (%s): %d links + %d addresses + %d routes  (kernel shows %d links, %d addresses, %d routes)'
              % ((size, args.shape) + SIZES[size] + objs))
        for k in sorted(res):
            if k in m:
                print('  %-24s median %7.3f s   (%s)' % (k, m[k], ', '.join('%.3f' % x for x in res[k])))
        print('  floor (ip-batch + noop-playbook)   %7.3f s' % floor)
        for name, dummy in engines:
            rows = (('one-task / floor', '%7.2fx', m[name + 'one-task'] / floor, ''),
                    ('rerun - noop-playbook', '%7.3f s', m[name + 'rerun'] - m['noop-playbook'], ''),
                    ('rerun module work', '%7.3f s', m[name + 'rerun-module-work'], ''),
                    ('rerun - empty-task', '%7.3f s', m[name + 'rerun'] - m[name + 'empty-task'], '   (target <= 0.2 s)'),
                    ('empty-task - noop-playbook', '%7.3f s', m[name + 'empty-task'] - m['noop-playbook'], '   (target <= 0.3 s)'))
            if name + 'src one-task' in m:
                rows += (('src one-task / floor', '%7.2fx', m[name + 'src one-task'] / floor, ''),
                         ('src rerun - empty-task', '%7.3f s', m[name + 'src rerun'] - m[name + 'empty-task'],
                          '   (target <= 0.2 s)'),
                         ('rerun - src rerun', '%7.3f s', m[name + 'rerun'] - m[name + 'src rerun'], ''),
                         ('CPU: rerun - empty-task', '%7.3f s', m[name + 'rerun cpu'] - m[name + 'empty-task cpu'], ''),
                         ('CPU: src rerun - empty-task', '%7.3f s', m[name + 'src rerun cpu'] - m[name + 'empty-task cpu'], ''))
            for label, fmt, value, note in rows:
                print('  ' + (name + label).ljust(35) + (fmt % value) + note)
        if 'per-object' in m:
            print('  per-object / one-task              %7.1fx' % (m['per-object'] / m[engines[0][0] + 'one-task']))
            total = sum(SIZES[size])
            per_obj = m['per-object'] / total
            print('  per-object extrapolated to large   %7.1f s   (%.3f s per object x %d objects)'
                  % (per_obj * sum(SIZES['large']), per_obj, sum(SIZES['large'])))
            RESULTS[size] = m
        if size == 'large' and 'small' in RESULTS:
            est = RESULTS['small']['per-object'] / sum(SIZES['small']) * sum(SIZES['large'])
            print('  per-object (extrapolated) / one-task %5.0fx   (target >= 100x)' % (est / m[engines[0][0] + 'one-task']))
    subprocess.run(['rm', '-rf', workdir], check=False)


RESULTS = {}

if __name__ == '__main__':
    main()
