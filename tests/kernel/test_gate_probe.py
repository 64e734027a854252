"""The cluster_network role's health-gate probe (roles/cluster_network/files/gate.py) on real namespaces.

Two namespaces joined by a veth pair: targets that answer (the peer over IPv4 and IPv6, the node itself) are `ok`,
targets that cannot answer (an unused address on the link, a network with no route) are `FAIL`, every line in the
order given - what the role reads to decide whether a batch is confirmed or reverted.
"""
import base64
import json
import os
import subprocess
import sys
import uuid

import pytest

GATE = os.path.join(os.path.dirname(__file__), '..', '..', 'roles', 'cluster_network', 'files', 'gate.py')


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


@pytest.fixture
def pair():
    a, b = 'nngt-a-%s' % uuid.uuid4().hex[:8], 'nngt-b-%s' % uuid.uuid4().hex[:8]
    sh('ip', 'netns', 'add', a)
    sh('ip', 'netns', 'add', b)
    try:
        sh('ip', '-n', a, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b)
        for ns, dev, v4, v6 in ((a, 'va', '10.77.0.1/24', 'fd77::1/64'), (b, 'vb', '10.77.0.2/24', 'fd77::2/64')):
            sh('ip', '-n', ns, 'addr', 'add', v4, 'dev', dev)
            sh('ip', '-n', ns, 'addr', 'add', v6, 'dev', dev, 'nodad')
            sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
            sh('ip', '-n', ns, 'link', 'set', dev, 'up')
        yield a, b
    finally:
        sh('ip', 'netns', 'del', a, check=False)
        sh('ip', 'netns', 'del', b, check=False)


def gate(ns, targets, timeout):
    arg = base64.b64encode(json.dumps({'timeout': timeout, 'targets': targets}).encode()).decode()
    p = sh('ip', 'netns', 'exec', ns, sys.executable, GATE, arg)
    return p.stdout.splitlines()


def test_reachable_and_unreachable_targets(pair):
    a, _b = pair
    targets = ['b nodes 10.77.0.2', 'b nodes fd77::2', 'gone nodes 10.77.0.9', 'self nodes 10.77.0.1',
               'gone nodes fd77::9', 'nowhere nodes 10.200.0.1']
    assert gate(a, targets, 3) == ['ok b nodes 10.77.0.2', 'ok b nodes fd77::2', 'FAIL gone nodes 10.77.0.9',
                                   'ok self nodes 10.77.0.1', 'FAIL gone nodes fd77::9', 'FAIL nowhere nodes 10.200.0.1']


def test_a_cut_cable_fails_every_target_behind_it(pair):
    a, b = pair
    sh('ip', '-n', b, 'link', 'set', 'vb', 'down')
    assert gate(a, ['b nodes 10.77.0.2', 'b nodes fd77::2'], 2) == ['FAIL b nodes 10.77.0.2', 'FAIL b nodes fd77::2']


def test_many_targets_one_process(pair):
    """150 targets (a 50-node cluster's gate from one node): the 148 that cannot answer fail, the 2 that can are ok."""
    a, _b = pair
    targets = ['n%d nodes 10.77.0.%d' % (i, i) for i in range(3, 151)] + ['b nodes 10.77.0.2', 'b nodes fd77::2']
    lines = gate(a, targets, 3)
    assert len(lines) == 150
    assert lines[-2:] == ['ok b nodes 10.77.0.2', 'ok b nodes fd77::2']
    assert all(line.startswith('FAIL ') for line in lines[:-2])


def test_a_malformed_target_is_refused(pair):
    a, _b = pair
    arg = base64.b64encode(json.dumps({'timeout': 1, 'targets': ['only-two words']}).encode()).decode()
    p = sh('ip', 'netns', 'exec', a, sys.executable, GATE, arg, check=False)
    assert p.returncode != 0 and 'a target is "<node> <via> <address>"' in p.stderr
