"""Integration tier for the firewall module and role, run as a user would with ansible-playbook.

firewall.yml: --check --diff from empty, run, --check again (changed=0), run again (changed=0),
with nft itself as the independent check. firewall_errors.yml runs inside a lab namespace (the
whole ansible-playbook under `ip netns exec`), so the lock-out guard acts on "its own" node.
"""
import json
import os
import re
import subprocess
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, '.venv', 'bin')
RECAP = re.compile(r'localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)')


def playbook(name, extra_vars, *extra, netns=None):
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
               ANSIBLE_NOCOLOR='1', PATH=VENV + os.pathsep + os.environ['PATH'])
    env.pop('SSH_CONNECTION', None)
    env.pop('SSH_CLIENT', None)
    cmd = [os.path.join(VENV, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
           os.path.join(HERE, 'playbooks', name), '-e', json.dumps(extra_vars)] + list(extra)
    if netns:
        cmd = ['ip', 'netns', 'exec', netns] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    m = RECAP.search(p.stdout)
    assert m, 'no recap in output:\n%s\n%s' % (p.stdout[-3000:], p.stderr[-3000:])
    return {'rc': p.returncode, 'changed': int(m.group(2)), 'failed': int(m.group(4)), 'out': p.stdout}


@pytest.fixture
def namespaces():
    names = ['nnfw-i%s' % uuid.uuid4().hex[:8] for i in range(2)]
    for n in names:
        subprocess.run(['ip', 'netns', 'add', n], check=True)
    yield names
    for n in names:
        subprocess.run(['ip', 'netns', 'del', n], check=False)


def table(netns):
    p = subprocess.run(['ip', 'netns', 'exec', netns, 'nft', '-s', 'list', 'table', 'inet', 'nodenet'],
                       capture_output=True, text=True, check=False)
    return p.stdout if p.returncode == 0 else None


def test_firewall_check_run_idempotent(namespaces):
    ns1, ns2 = namespaces
    ev = {'nodenet_netns': ns1, 'nodenet_netns2': ns2}
    r = playbook('firewall.yml', ev, '--check', '--diff')
    assert r['rc'] == 0 and r['failed'] == 0 and r['changed'] == 2, r['out'][-3000:]
    assert '+    ip saddr 192.0.2.0/24 tcp dport 22 accept comment "ssh"' in r['out'], 'no diff shown'
    assert table(ns1) is None and table(ns2) is None, 'check mode changed a namespace'
    r = playbook('firewall.yml', ev)
    assert r['rc'] == 0 and r['changed'] == 2, r['out'][-3000:]
    installed = table(ns1)
    assert 'policy drop;' in installed and 'tcp dport { 7000-7010, 8080 }' in installed
    assert 'udp dport 8472' in table(ns2) and 'tcp dport 2379-2380' in table(ns2)
    r = playbook('firewall.yml', ev, '--check')
    assert r['rc'] == 0 and r['changed'] == 0, r['out'][-3000:]
    r = playbook('firewall.yml', ev)
    assert r['rc'] == 0 and r['changed'] == 0, r['out'][-3000:]
    assert table(ns1) == installed


def test_firewall_refusals_inside_the_node(namespaces):
    r = playbook('firewall_errors.yml', {}, netns=namespaces[0])
    assert r['rc'] == 0 and r['failed'] == 0, r['out'][-4000:]
    assert table(namespaces[0]) is None
