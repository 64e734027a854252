"""Integration tier: playbooks against a lab namespace, run as a user would with ansible-playbook.

node_network.yml: --check from empty (reports changes, touches nothing), run, --check again
(changed=0), run again (changed=0).
"""
import os
import re
import subprocess

import pytest

from testlib import scratch_netns

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, '.venv', 'bin')


def playbook(name, netns, *extra):
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
               ANSIBLE_NOCOLOR='1', PATH=VENV + os.pathsep + os.environ['PATH'])
    p = subprocess.run([os.path.join(VENV, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                        os.path.join(HERE, 'playbooks', name), '-e', 'nodenet_netns=%s' % netns] + list(extra),
                       capture_output=True, text=True, env=env, check=False)
    m = re.search(r'localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', p.stdout)
    assert m, 'no recap in output:\n%s\n%s' % (p.stdout[-3000:], p.stderr[-3000:])
    return {'rc': p.returncode, 'ok': int(m.group(1)), 'changed': int(m.group(2)), 'failed': int(m.group(4)),
            'out': p.stdout}


@pytest.fixture
def netns():
    with scratch_netns('nni') as name:
        yield name


def links(netns):
    return subprocess.run(['ip', '-n', netns, '-o', 'link'], capture_output=True, text=True, check=True).stdout


def test_node_network_check_run_idempotent(netns):
    empty = links(netns)
    r = playbook('node_network.yml', netns, '--check', '--diff')
    assert r['rc'] == 0 and r['failed'] == 0, r['out'][-3000:]
    assert r['changed'] >= 7
    assert links(netns) == empty, 'check mode changed the namespace'
    r = playbook('node_network.yml', netns)
    assert r['rc'] == 0 and r['changed'] >= 7, r['out'][-3000:]
    r = playbook('node_network.yml', netns, '--check')
    assert r['rc'] == 0 and r['changed'] == 0, r['out'][-3000:]
    r = playbook('node_network.yml', netns)
    assert r['rc'] == 0 and r['changed'] == 0, r['out'][-3000:]


def test_errors_are_clear_and_change_nothing(netns):
    r = playbook('errors.yml', netns)
    assert r['rc'] == 0 and r['failed'] == 0, r['out'][-4000:]
