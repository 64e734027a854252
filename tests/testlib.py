"""Helpers every test tier shares (tests/conftest.py puts this folder on sys.path): commands, bounded
polling, and the clean-up of what WireGuard tests leave (namespaces and their socket directories)."""
import contextlib
import os
import subprocess
import time
import uuid

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import wireguard_backends as wgb


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def user_result(result, keep=()):
    """runner.converge's result as a module user sees it: without what it hands its callers
    (the keys starting with '_': state, records, operations, context), except those in `keep`."""
    for key in [k for k in result if k.startswith('_') and k not in keep]:
        del result[key]
    return result


def wait_for(pred, limit=30, step=0.1):
    """Poll until pred() is true; the bound only stops a broken test from hanging."""
    t0 = time.time()
    while time.time() - t0 < limit:
        if pred():
            return True
        time.sleep(step)
    return False


@contextlib.contextmanager
def scratch_netns(prefix):
    """A new network namespace named <prefix>-<random>, deleted afterwards (and checked gone)."""
    name = '%s-%s' % (prefix, uuid.uuid4().hex[:8])
    sh('ip', 'netns', 'add', name)
    try:
        yield name
    finally:
        sh('ip', 'netns', 'del', name, check=False)
        assert not os.path.exists('/run/netns/%s' % name), 'namespace %s left behind' % name


def remove_wireguard_nodes(nodes):
    """Tear down [(namespace, wireguard link)]: delete each link (its wireguard-go stops and removes its
    socket), wait for the socket to go, delete the namespace, then remove the namespace's own socket
    directory (/run/nodenet/wireguard/<netns>: the module removes it when it deletes the link, a plain
    `ip link del` does not) and assert nothing of the test is left behind."""
    for ns, name in nodes:
        sh('ip', '-n', ns, 'link', 'del', name, check=False)
    for ns, name in nodes:
        wait_for(lambda: not wgb.uapi_served(name, ns), 5, 0.05)
    for ns, name in nodes:
        sh('ip', 'netns', 'del', ns, check=False)
        d = wgb.uapi_dir(ns)
        if os.path.isdir(d):
            os.rmdir(d)     # fails, naming the socket, when wireguard-go outlived its link
        assert not os.path.exists('/run/netns/%s' % ns) and not os.path.exists(d), 'left behind: %s' % ns
