"""Kernel tier: every test gets its own fresh network namespace; nothing touches the host's network."""
import json
import subprocess
import uuid

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import converge


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


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
        result = converge(desired, netns=netns, **kw)
        result.pop('_state', None)
        result.pop('_records', None)
        return result
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
