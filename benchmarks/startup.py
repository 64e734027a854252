"""Benchmark: the start-up of a `seed.nodenet.network` task against an `ansible.builtin.ping` task.

  sudo .venv/bin/python benchmarks/startup.py [--reps N] [--engines before=/tmp/old-checkout,after=.]

Measured for each checkout, interleaved (rep 1 of every case, then rep 2 ...), medians of N:
  playbook      CPU (user+sys of ansible-playbook and everything it starts) and wall time of a
                playbook with one task: `ping`, and a `network` task with nothing declared (in a
                namespace of its own); the difference is the task's whole start-up cost over `ping`;
                and a playbook with two such `network` tasks: what a second one adds
  module        CPU of the module's process alone (the AnsiballZ file Ansible ran, kept with
                ANSIBLE_KEEP_REMOTE_FILES and run again, 3 times per rep): what the node pays per task
  engine import CPU of importing the engine (network + adapter) from that module's zip, with Ansible's
                basic already imported and the engine's bytecode cache warm, and how many engine
                modules it loads
The rest of the playbook difference is the controller's: Ansible builds the module's zip once per
playbook run and module (it parses every module_utils file the module can reach, imports inside
functions included), so a playbook with many `network` tasks pays it once.
The engine's bytecode cache and node lock live in a temporary NODENET_RUN_DIR, warmed by one run
first. Not a pass/fail test: it prints numbers. Needs root (a network namespace) and the project's
.venv (scripts/setup).
"""
import argparse
import base64
import glob
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(ROOT, '.venv', 'bin')
PKG = 'ansible_collections.seed.nodenet.plugins.module_utils.nodenet'

PING = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.ping:
'''
EMPTY = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - seed.nodenet.network:
        netns: %s
'''
TWICE = EMPTY + '''    - seed.nodenet.network:
        netns: %s
'''
IMPORT = '''
import sys, time
sys.path.insert(0, sys.argv[1])
import ansible.module_utils.basic
before = set(sys.modules)
t = time.process_time()
from %s import network, adapter
t = time.process_time() - t
print(t, len([m for m in set(sys.modules) - before if m.startswith('%s')]))
''' % (PKG, PKG)


def collections_of(checkout):
    """The collections path of a checkout (made like scripts/env.sh does if it is missing)."""
    coll = os.path.join(checkout, '.build', 'collections')
    link = os.path.join(coll, 'ansible_collections', 'seed', 'nodenet')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.abspath(checkout), link)
    return coll


def timed(argv, env):
    """(CPU s of the command and its children, wall s)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    p = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit('%s failed:\n%s\n%s' % (' '.join(argv), p.stdout[-2000:], p.stderr[-2000:]))
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), wall, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--engines', default='', help='name=checkout,...; default: this checkout')
    args = ap.parse_args()
    engines = [('', ROOT)]
    if args.engines:
        engines = [(n, os.path.abspath(r)) for n, r in (e.split('=', 1) for e in args.engines.split(','))]
    work = tempfile.mkdtemp(prefix='nnstart-')
    ns = 'nnstart-%s' % uuid.uuid4().hex[:8]
    subprocess.run(['ip', 'netns', 'add', ns], check=True)
    try:
        books = dict((b, os.path.join(work, b + '.yml')) for b in ('ping', 'empty', 'twice'))
        for book, text in (('ping', PING), ('empty', EMPTY % ns), ('twice', TWICE % (ns, ns))):
            with open(books[book], 'w') as f:
                f.write(text)
        envs, kept = {}, {}
        for name, checkout in engines:
            env = dict(os.environ, PATH=VENV + os.pathsep + os.environ.get('PATH', ''),
                       ANSIBLE_COLLECTIONS_PATH=collections_of(checkout), ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'),
                       ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
                       NODENET_RUN_DIR=os.path.join(work, 'run-%s' % (name or 'this')))
            env.pop('PYTHONDONTWRITEBYTECODE', None)
            envs[name] = env
            # one run of each with the module files kept: warms the bytecode cache, gives the AnsiballZ files
            for book in ('ping', 'empty'):
                tmp = os.path.join(work, 'remote-%s-%s' % (name or 'this', book))
                timed([os.path.join(VENV, 'ansible-playbook'), '-c', 'local', '-i', 'localhost,', books[book]],
                      dict(env, ANSIBLE_KEEP_REMOTE_FILES='1', ANSIBLE_REMOTE_TMP=tmp))
                kept[name, book] = glob.glob(os.path.join(tmp, '*', 'AnsiballZ_*.py'))[0]
            with open(kept[name, 'empty']) as f:
                data = re.search(r"zip_data='([^']*)'", f.read()).group(1)
            zpath = os.path.join(work, 'payload-%s.zip' % (name or 'this'))
            with open(zpath, 'wb') as f:
                f.write(base64.b64decode(data))
            kept[name, 'zip'] = zpath
            subprocess.run([os.path.join(VENV, 'python'), '-c', IMPORT, zpath], env=env, check=True, capture_output=True)
        res = {}
        for rep in range(args.reps):
            for name, dummy in (engines if rep % 2 == 0 else engines[::-1]):
                env = envs[name]
                for book in (('ping', 'empty') if rep % 2 == 0 else ('empty', 'ping')):
                    cpu, wall, dummy = timed([os.path.join(VENV, 'ansible-playbook'), '-c', 'local', '-i', 'localhost,', books[book]], env)
                    res.setdefault((name, 'playbook', book), []).append((cpu, wall))
                    for dummy in range(3):      # cheap, and the smallest of the differences: more samples
                        cpu, wall, dummy = timed([os.path.join(VENV, 'python'), kept[name, book]], env)
                        res.setdefault((name, 'module', book), []).append((cpu, wall))
                cpu, wall, dummy = timed([os.path.join(VENV, 'ansible-playbook'), '-c', 'local', '-i', 'localhost,', books['twice']], env)
                res.setdefault((name, 'playbook', 'twice'), []).append((cpu, wall))
                cpu, wall, out = timed([os.path.join(VENV, 'python'), '-c', IMPORT, kept[name, 'zip']], env)
                t, n = out.split()
                res.setdefault((name, 'import', ''), []).append((float(t), int(n)))
        print('start-up, medians of %d interleaved runs (load average %.1f)' % (args.reps, os.getloadavg()[0]))
        for name, checkout in engines:
            def med(key, i=0):
                return statistics.median(x[i] for x in res[key])

            def low(key):
                return min(x[0] for x in res[key])
            label = (name + ': ') if name else ''
            print('%s%s' % (label, checkout))
            print('  playbook CPU: ping %.2f s, empty network %.2f s, difference %.2f s (wall %.2f / %.2f s; '
                  'the least of each: %.2f / %.2f s, difference %.2f s)'
                  % (med((name, 'playbook', 'ping')), med((name, 'playbook', 'empty')),
                     med((name, 'playbook', 'empty')) - med((name, 'playbook', 'ping')),
                     med((name, 'playbook', 'ping'), 1), med((name, 'playbook', 'empty'), 1),
                     low((name, 'playbook', 'ping')), low((name, 'playbook', 'empty')),
                     low((name, 'playbook', 'empty')) - low((name, 'playbook', 'ping'))))
            print('  a second empty network task in the same playbook: +%.2f s CPU (Ansible reuses the module zip)'
                  % (med((name, 'playbook', 'twice')) - med((name, 'playbook', 'empty'))))
            print('  module process CPU: ping %.3f s, network %.3f s, difference %.3f s (the least of each: %.3f / %.3f s)'
                  % (med((name, 'module', 'ping')), med((name, 'module', 'empty')),
                     med((name, 'module', 'empty')) - med((name, 'module', 'ping')),
                     low((name, 'module', 'ping')), low((name, 'module', 'empty'))))
            print('  engine import from the module zip: %.3f s CPU, %d engine modules'
                  % (med((name, 'import', '')), med((name, 'import', ''), 1)))
    finally:
        subprocess.run(['ip', 'netns', 'del', ns], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
