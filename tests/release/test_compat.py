"""Compatibility at the edges the collection claims (meta/runtime.yml requires_ansible, tests/config.yml
python_requires, the README's pyroute2 floor). The newest edge is the main .venv every other tier uses
(ansible-core 2.21, Python 3.13, pyroute2 0.9.7); this file tests the oldest:

- controller: the oldest ansible-core claimed (2.16) on Python 3.11, a Python it supports;
- target: the oldest target Python claimed (3.9) with the oldest pyroute2 claimed (0.7.3);
- engine: the kernel tier's link, address/route/rule and whole-node tests with pyroute2 0.7.3.

The virtual environments are kept in .build/compat/ (made once; again when the pins change).
"""
import glob
import hashlib
import json
import os
import re
import subprocess
import uuid

import pytest
import yaml

from .common import ROOT, env

OLDEST_CORE = 'ansible-core==2.16.19'
OLDEST_PYROUTE2 = 'pyroute2==0.7.3'
CONTROLLER_PY = '3.11'
TARGET_PY = '3.9'
RECAP = re.compile(r'localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)')


def interpreter(version):
    """A real interpreter of this version (pyenv's by path, not its shims), or a skip that says why."""
    root = subprocess.run(['pyenv', 'root'], capture_output=True, text=True, check=False).stdout.strip() \
        or os.path.expanduser('~/.pyenv')
    for path in sorted(glob.glob(os.path.join(root, 'versions', version + '.*', 'bin', 'python' + version)), reverse=True) \
            + ['/usr/bin/python' + version]:
        if os.access(path, os.X_OK):
            return path
    pytest.skip('no Python %s on this machine (pyenv install %s, or a python%s on /usr/bin)' % (version, version, version))


def venv(name, version, packages):
    """.build/compat/<name>-<hash>: a venv of that Python with exactly these pins."""
    key = hashlib.sha256(('%s %s' % (version, ' '.join(packages))).encode()).hexdigest()[:12]
    path = os.path.join(ROOT, '.build', 'compat', '%s-%s' % (name, key))
    py = os.path.join(path, 'bin', 'python')
    if not os.path.exists(os.path.join(path, '.ready')):
        subprocess.run(['rm', '-rf', path], check=True)
        subprocess.run([interpreter(version), '-m', 'venv', path], check=True)
        p = subprocess.run([py, '-m', 'pip', 'install', '-q', '--disable-pip-version-check'] + packages,
                           capture_output=True, text=True, check=False)
        assert p.returncode == 0, p.stderr[-3000:]
        open(os.path.join(path, '.ready'), 'w').close()
    return path


def claimed():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as f:
        requires = yaml.safe_load(f)['requires_ansible']
    with open(os.path.join(ROOT, 'tests', 'config.yml')) as f:
        python_requires = yaml.safe_load(f)['modules']['python_requires']
    return requires, python_requires


def test_the_oldest_edges_are_what_the_collection_claims():
    requires, python_requires = claimed()
    assert requires == '>=%s.0' % OLDEST_CORE.split('==')[1].rsplit('.', 1)[0], requires
    assert python_requires == '>=%s' % TARGET_PY, python_requires
    with open(os.path.join(ROOT, 'plugins', 'doc_fragments', 'common.py')) as f:
        assert 'pyroute2 >= %s' % OLDEST_PYROUTE2.split('==')[1] in f.read()


@pytest.fixture(scope='module')
def controller():
    return venv('controller', CONTROLLER_PY, [OLDEST_CORE, OLDEST_PYROUTE2, 'cryptography>=42', 'pytest'])


@pytest.fixture(scope='module')
def target():
    return venv('target', TARGET_PY, [OLDEST_PYROUTE2, 'cryptography>=42'])


def test_ansible_doc_of_every_module_on_the_oldest_core(controller):
    modules = sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, 'plugins', 'modules')) if n.endswith('.py'))
    p = subprocess.run([os.path.join(controller, 'bin', 'ansible-doc'), '--json', '-t', 'module']
                       + ['seed.nodenet.' + m for m in modules], capture_output=True, text=True, env=env(), check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    docs = json.loads(p.stdout)
    assert sorted(docs) == ['seed.nodenet.' + m for m in modules], p.stderr[-3000:]


def test_playbook_on_the_oldest_core_and_target(controller, target):
    """node_network.yml: check from empty, run, idempotent check, idempotent run (as the integration tier)."""
    ns = 'nncp-%s' % uuid.uuid4().hex[:8]
    subprocess.run(['ip', 'netns', 'add', ns], check=True)
    e = env(ANSIBLE_PYTHON_INTERPRETER=os.path.join(target, 'bin', 'python'),
            PATH=os.path.join(controller, 'bin') + os.pathsep + os.environ['PATH'])
    try:
        results = []
        for extra in (['--check'], [], ['--check'], []):
            p = subprocess.run([os.path.join(controller, 'bin', 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                                os.path.join(ROOT, 'tests', 'integration', 'playbooks', 'node_network.yml'),
                                '-e', 'nodenet_netns=%s' % ns] + extra, capture_output=True, text=True, env=e, check=False)
            m = RECAP.search(p.stdout)
            assert p.returncode == 0 and m, p.stdout[-3000:] + p.stderr[-2000:]
            results.append(int(m.group(2)))
        assert results[0] >= 7 and results[1] == results[0] and results[2:] == [0, 0], results
        v = subprocess.run([os.path.join(target, 'bin', 'python'), '-c', 'import sys, pyroute2; print(sys.version_info[:2], pyroute2.__version__)'],
                           capture_output=True, text=True, check=True).stdout
        assert '(3, 9)' in v and '0.7.3' in v, v
    finally:
        subprocess.run(['ip', 'netns', 'del', ns], check=False)


def test_kernel_tier_subset_with_the_oldest_pyroute2(controller):
    p = subprocess.run([os.path.join(controller, 'bin', 'python'), '-m', 'pytest', '-p', 'no:cacheprovider', '-q',
                        'tests/kernel/test_link.py', 'tests/kernel/test_address_route_rule.py', 'tests/kernel/test_network.py'],
                       cwd=ROOT, capture_output=True, text=True, env=env(), check=False)
    tail = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr[-2000:]
    assert p.returncode == 0, p.stdout[-4000:]
    assert re.search(r'\d+ passed', tail) and 'failed' not in tail, tail
