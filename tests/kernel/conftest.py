"""Kernel tier: every test gets its own fresh network namespace; nothing touches the host's network."""
import json
import os
import subprocess
import uuid

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import agent
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import converge
from testlib import user_result


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


@pytest.fixture
def run_dir(netns, tmp_path, monkeypatch):
    """The engine's run directory (node lock, pending/confirmed/reverted records, the engine copy the
    watchdog runs) in the test's temp dir instead of the machine's /run/nodenet. Afterwards no
    watchdog of the test is left running and the machine's /run/nodenet holds nothing of its node."""
    d = tmp_path / 'run'
    monkeypatch.setattr(agent, 'RUN_DIR', str(d))
    node = agent.node_id(netns)
    yield d
    for f in d.glob('pending-*.json'):
        pid = json.loads(f.read_text()).get('watchdog_pid')
        if pid:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
    machine = '/run/nodenet'
    leaked = [n for n in (os.listdir(machine) if os.path.isdir(machine) else []) if node in n]
    assert not leaked, 'left in %s: %s' % (machine, leaked)


@pytest.fixture
def netns():
    name = 'nnt-%s' % uuid.uuid4().hex[:10]
    sh('ip', 'netns', 'add', name)
    try:
        yield name
    finally:
        sh('ip', 'netns', 'del', name, check=False)


@pytest.fixture
def ip(netns):
    """ip -j -n <ns> ... -> parsed JSON (the independent view a user would check)."""
    def run(*args):
        out = sh('ip', '-j', '-d', '-n', netns, *args).stdout
        return json.loads(out) if out.strip() else []
    return run


@pytest.fixture
def apply(netns):
    def run(desired, **kw):
        return user_result(converge(desired, netns=netns, **kw))
    return run


@pytest.fixture
def snapshot(netns):
    """The whole observable network state of the namespace, for before/after comparisons."""
    def snap():
        s = gather(netns)
        for link in s['links']:
            link.pop('operational_state', None)
            link['flags'] = [f for f in link['flags'] if f not in ('RUNNING', 'LOWER_UP')]
        s['addresses'] = [dict(a, flags=[f for f in a['flags'] if f != 'tentative']) for a in s['addresses']]
        return s
    return snap


def kernel_has(kind):
    name = 'probe-%s' % uuid.uuid4().hex[:6]
    sh('ip', 'netns', 'add', name)
    try:
        return sh('ip', '-n', name, 'link', 'add', 'p0', 'type', kind, check=False).returncode == 0
    finally:
        sh('ip', 'netns', 'del', name, check=False)
