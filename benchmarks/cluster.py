"""Benchmark: playbooks/site.yml (role cluster_network) on labs of growing size; time per node.

  sudo .venv/bin/python benchmarks/cluster.py [--sizes 5,20,30] [--batches 2] [--forks 30] [--static-neighbours]

For each size N: build a lab of N nodes (3 control planes, N-3 workers, one switch, an uplink; role
seed.nodenet.lab, not timed), then time
  from-empty   site.yml on the nodes from empty (mesh and firewall on, N-1 WireGuard peers each,
               /etc/hosts with 2N entries), in --batches batches (batch_size = ceil(N / batches)),
               with --forks forks (default: N, so one module call per node per step runs at once)
  rerun        site.yml again (changed=0)
  noop         a playbook with one task doing nothing (ansible.builtin.ping) on the same nodes: the
               floor of one module round trip per node
and remove the lab. Prints a table: total and per-node times, and the from-empty time in noop units
(how many module round trips' worth the whole rollout costs). Not a pass/fail test. Labs are named
nnclbench-<random>-<N> and removed afterwards. Needs root and the project's .venv (scripts/setup).
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(ROOT, '.venv', 'bin')
sys.path.insert(0, os.path.join(ROOT, '.build', 'collections'))   # scripts/env.sh links this checkout there
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import lab as lab_module  # noqa: E402  pylint: disable=wrong-import-position


def env():
    e = dict(os.environ)
    e.update(PATH=VENV + ':' + e.get('PATH', ''), ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
             ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'), ANSIBLE_PIPELINING='1', ANSIBLE_NOCOLOR='1',
             ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
             ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callback_plugins'), ANSIBLE_CALLBACKS_ENABLED='task_times')
    return e


def description(name, n, batches):
    nodes, hostvars = [], {}
    for i in range(n):
        node = 'cp%d' % (i + 1) if i < 3 else 'w%d' % (i - 2)
        host = 10 + i
        nodes.append({'name': node, 'groups': ['control_plane' if i < 3 else 'workers'], 'links': [{'name': 'eth0', 'switch': 'sw0'}],
                      'vars': {'nodenet_network': {
                          'links': [{'name': 'eth0', 'mtu': 1500, 'up': True}],
                          'addresses': [{'address': '192.168.50.%d/24' % host, 'link': 'eth0'},
                                        {'address': 'fd00:50::%x/64' % host, 'link': 'eth0'}],
                          'routes': [{'destination': 'default', 'gateway': '192.168.50.1'}]}}})
    lab = {'name': name, 'domain': 'lab.example', 'switches': [{'name': 'sw0', 'mtu': 1500}], 'nodes': nodes,
           'uplink': {'switch': 'sw0', 'addresses': ['192.168.50.1/24', 'fd00:50::1/64'], 'nat': False, 'dns': True}}
    cluster = {'domain': 'lab.example', 'networks': [{'name': 'nodes', 'cidrs': ['192.168.50.0/24', 'fd00:50::/64'], 'mtu': 1500}],
               'pod_cidrs': ['10.244.0.0/16'], 'service_cidrs': ['10.96.0.0/12'],
               'dns': {'nameservers': ['192.168.50.1'], 'search_domains': ['lab.example']},
               'mesh': {'enabled': True, 'cidrs': ['10.250.0.0/24']}, 'firewall': {'enabled': True},
               'rollout': {'batch_size': int(math.ceil(n / float(batches))), 'rollback_timeout': 600, 'gate_timeout': 30}}
    return lab, cluster


def run(args, tmp, forks, label):
    """One ansible-playbook run: (seconds, changed count); its log and task times are kept in tmp as <label>.*"""
    e = env()
    e['NODENET_TASK_TIMES'] = os.path.join(tmp, label + '.times.json')
    t0 = time.time()
    p = subprocess.run(['ansible-playbook', '-f', str(forks)] + args, cwd=ROOT, env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    dt = time.time() - t0
    log = os.path.join(tmp, label + '.log')
    with open(log, 'w') as fh:
        fh.write(p.stdout)
    if p.returncode != 0:
        sys.exit('failed (rc %d), see %s:\n%s' % (p.returncode, log, p.stdout[-3000:]))
    changed = sum(int(x) for x in re.findall(r'changed=(\d+)', p.stdout))
    return dt, changed


def top_tasks(tmp, label, count=8):
    """The slowest tasks of a run (task_times callback), summed by name: [(seconds, name)]."""
    try:
        with open(os.path.join(tmp, label + '.times.json')) as fh:
            rows = json.load(fh)
    except (IOError, OSError, ValueError):
        return []
    by = {}
    for r in rows:
        by[r['task']] = by.get(r['task'], 0.0) + r['seconds']
    return sorted(((v, k) for k, v in by.items()), reverse=True)[:count]


def mac(ns, dev):
    out = subprocess.run(['ip', '-j', '-n', ns, 'link', 'show', dev], stdout=subprocess.PIPE, universal_newlines=True,
                         check=True).stdout
    return json.loads(out)[0]['address']


def static_neighbours(name, lab):
    """Permanent neighbour entries in every node and the uplink for every other one's node-network addresses.

    Permanent entries do not count against gc_thresh3 (the kernel exempts them from its garbage collection), so
    a lab larger than the shared neighbour table allows still delivers its traffic; the run then measures the
    role, not ARP/NDP on an overfull table. Returns the number of entries made.
    """
    ends = [('%s-%s' % (name, nd['name']), 'eth0', [a['address'].split('/')[0] for a in nd['vars']['nodenet_network']['addresses']])
            for nd in lab['nodes']]
    ends.append(('%s-uplink' % name, 'lan0', [a.split('/')[0] for a in lab['uplink']['addresses']]))
    macs = dict((ns, mac(ns, dev)) for ns, dev, dummy in ends)
    count = 0
    for ns, dev, dummy in ends:
        lines = ['neigh replace %s lladdr %s dev %s nud permanent' % (addr, macs[other], dev)
                 for other, dummy_dev, addrs in ends if other != ns for addr in addrs]
        subprocess.run(['ip', '-n', ns, '-batch', '-'], input='\n'.join(lines) + '\n', universal_newlines=True, check=True)
        count += len(lines)
    return count


def bench(n, batches, forks, tmp, static=False):
    name = 'nnclbench-%s-%d' % (uuid.uuid4().hex[:4], n)
    lab, cluster = description(name, n, batches)
    labvars = os.path.join(tmp, '%s-lab.json' % name)
    clvars = os.path.join(tmp, '%s-cluster.json' % name)
    with open(labvars, 'w') as fh:
        json.dump({'nodenet_lab': lab}, fh)
    with open(clvars, 'w') as fh:
        json.dump({'nodenet_cluster': cluster}, fh)
    inv = '/run/nodenet/lab/%s/inventory.yml' % name
    t0 = time.time()
    try:
        t_lab, dummy = run(['playbooks/lab.yml', '-e', '@' + labvars], tmp, 1, '%d-lab' % n)
        if static:
            print('N=%d: %d permanent neighbour entries made in the lab (--static-neighbours)' % (n, static_neighbours(name, lab)),
                  flush=True)
        noop, dummy = run(['-i', inv, os.path.join(tmp, 'noop.yml')], tmp, forks, '%d-noop' % n)
        empty, changed1 = run(['-i', inv, '-e', '@' + clvars, 'playbooks/site.yml'], tmp, forks, '%d-empty' % n)
        rerun, changed2 = run(['-i', inv, '-e', '@' + clvars, 'playbooks/site.yml'], tmp, forks, '%d-rerun' % n)
    finally:
        t1 = time.time()
        subprocess.run(['ansible-playbook', 'playbooks/lab.yml', '-e', '@' + labvars, '-e', 'nodenet_lab_state=absent'],
                       cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        print('N=%d: lab removed in %.0f s (whole size %.0f s)' % (n, time.time() - t1, time.time() - t0), flush=True)
    for label in ('empty', 'rerun'):
        print('N=%d %s, slowest tasks: %s' % (n, label, '; '.join('%.1f s %s' % x for x in top_tasks(tmp, '%d-%s' % (n, label)))),
              flush=True)
    return {'n': n, 'lab': t_lab, 'noop': noop, 'empty': empty, 'rerun': rerun, 'changed_rerun': changed2,
            'batch_size': cluster['rollout']['batch_size']}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sizes', default='5,20,30')
    ap.add_argument('--batches', type=int, default=2)
    ap.add_argument('--forks', type=int, default=0, help='default: the number of nodes')
    ap.add_argument('--static-neighbours', action='store_true',
                    help='give every lab node permanent neighbour entries for the others (not counted against gc_thresh3), '
                         'so sizes past the shared neighbour table can run')
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('needs root (network namespaces)')
    tmp = tempfile.mkdtemp(prefix='nnclbench-')
    with open(os.path.join(tmp, 'noop.yml'), 'w') as fh:
        fh.write('- hosts: control_plane:workers\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n')
    rows = []
    limit = lab_module.neighbour_limit()
    for n in [int(x) for x in a.sizes.split(',')]:
        # Every lab node reaches every other node and the uplink: N * N neighbour entries per address family, in
        # the one table all namespaces share. Past gc_thresh3 the kernel refuses new entries ("neighbor table
        # overflow") and the health gate fails for a reason no real cluster has (each real node has its own table).
        if limit is not None and n * n > limit and not a.static_neighbours:
            print('N=%d skipped: a lab of %d nodes needs about %d neighbour entries per address family, more than this '
                  'machine\'s net.ipv4/ipv6.neigh.default.gc_thresh3 (%s), a table every namespace shares; raising it '
                  'changes the host, so this benchmark does not; --static-neighbours runs it with permanent entries in the lab'
                  % (n, n, n * n, limit), flush=True)
            continue
        r = bench(n, a.batches, a.forks or n, tmp, static=a.static_neighbours)
        rows.append(r)
        print('N=%d done: from empty %.0f s, rerun %.0f s (changed=%d), noop %.1f s, lab %.0f s'
              % (n, r['empty'], r['rerun'], r['changed_rerun'], r['noop'], r['lab']), flush=True)
    print('\n| nodes | batches (size) | from empty | per node | rerun (changed=0) | per node | noop round trip | from empty / noop | lab |')
    print('|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print('| %d | %d (%d) | %.0f s | %.1f s | %.0f s | %.1f s | %.1f s | %.0fx | %.0f s |' % (
            r['n'], int(math.ceil(r['n'] / float(r['batch_size']))), r['batch_size'], r['empty'], r['empty'] / r['n'],
            r['rerun'], r['rerun'] / r['n'], r['noop'], r['empty'] / r['noop'], r['lab']))
    print('(logs in %s)' % tmp)


if __name__ == '__main__':
    main()
