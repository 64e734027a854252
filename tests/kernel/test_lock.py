"""Kernel tier: the node lock (lock.py). Two runs on one node take turns: the node ends in exactly
one of the two declared states, never a mix; a run that waits too long fails naming the holder;
check mode reads without the lock and says so; a change waiting for confirmation holds the node."""
import os
import threading
import time

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import agent, lock, network, runner
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NetnsError, NodenetError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather

N = 25   # addresses and routes per state (purging them is quadratic today: apply._dependents re-reads per delete)


def state(net):
    """A node network: eth0 with N addresses in 10.<net>.x.1/24 and N routes through 10.<net>.0.254."""
    return {
        'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}],
        'addresses': [{'address': '10.%d.%d.1/24' % (net, i), 'link': 'eth0'} for i in range(N)],
        'routes': [{'destination': '172.%d.%d.0/24' % (net, i), 'gateway': '10.%d.0.254' % net} for i in range(N)],
    }


def observed(netns):
    s = gather(netns, ['addresses', 'routes'])
    addrs = sorted(a['address'] for a in s['addresses'] if a['link'] == 'eth0' and a['family'] == 'inet4')
    routes = sorted(r['destination'] for r in s['routes'] if r['destination'].startswith('172.'))
    return addrs, routes


def expected(net):
    spec = state(net)
    return sorted(a['address'] for a in spec['addresses']), sorted(r['destination'] for r in spec['routes'])


def test_two_engines_started_at_the_same_instant_end_in_exactly_one_state(netns, run_dir):
    """Two engines in one process (threads, each with its own netlink socket and lock file
    descriptor), released by one barrier, many rounds: every round ends in A or in B, exactly."""
    rounds, waited = 6, 0
    for r in range(rounds):
        barrier = threading.Barrier(2)
        results, errors = {}, {}

        def go(net):
            try:
                barrier.wait()
                results[net] = network.converge(state(net), netns=netns, purge=['addresses', 'routes'])
            except Exception as e:  # noqa: BLE001 - reported below
                errors[net] = e

        threads = [threading.Thread(target=go, args=(net,)) for net in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, 'round %d: %r' % (r, errors)
        got = observed(netns)
        assert got in (expected(1), expected(2)), 'round %d: the node is in neither state: %d addresses %s..., %d routes %s...' % (
            r, len(got[0]), got[0][:3], len(got[1]), got[1][:3])
        waited += sum(1 for res in results.values() if any('waited' in w for w in res['warnings']))
    # each round one of the two either found the lock held or ran after the other had finished
    print('rounds in which one engine waited for the other: %d of %d' % (waited, rounds))
    assert not list(run_dir.glob('lock-*')), 'a released lock leaves no file behind'


def test_a_second_run_waits_then_fails_naming_the_holder(netns, run_dir):
    inside, release = threading.Event(), threading.Event()
    out = {}

    def holder_run():
        def hook(journal, snaps):
            inside.set()
            release.wait(60)
        out['r'] = network.converge(state(1), netns=netns, on_applied=hook)

    t = threading.Thread(target=holder_run)
    t.start()
    try:
        assert inside.wait(60)
        info = lock.holder(netns)
        assert info['pid'] == os.getpid() and info['task'] == 'seed.nodenet.network'
        # a single-kind run, willing to wait 1 s, gives up naming the holder; nothing changed
        t0 = time.time()
        with pytest.raises(lock.NodeLocked) as exc:
            runner.converge({'address': [{'address': '10.9.9.9/24', 'link': 'eth0'}]}, netns=netns, lock_timeout=1)
        assert time.time() - t0 >= 1
        msg = str(exc.value)
        print(msg)
        assert exc.value.field == 'lock_timeout'
        assert 'pid %d' % os.getpid() in msg and 'seed.nodenet.network' in msg and ' since ' in msg and 'nothing was changed' in msg
        assert '10.9.9.9/24' not in observed(netns)[0]
        # check mode reads without the lock and says who holds it
        r = runner.converge({'address': [{'address': '10.9.9.9/24', 'link': 'eth0'}]}, netns=netns, check_mode=True)
        assert r['changed'] is True
        assert any('read without the node lock' in w and 'pid %d' % os.getpid() in w for w in r['warnings']), r['warnings']
        # a run that waits long enough goes next, after the holder, and says it waited
        later = {}
        t2 = threading.Thread(target=lambda: later.update(r=runner.converge(
            {'address': [{'address': '10.9.9.9/24', 'link': 'eth0'}]}, netns=netns, lock_timeout=60)))
        t2.start()
        time.sleep(0.3)   # not a wait for kernel state: gives the second run time to start waiting
        assert '10.9.9.9/24' not in observed(netns)[0]
    finally:
        release.set()
        t.join(60)
    t2.join(60)
    assert out['r']['changed']
    assert '10.9.9.9/24' in observed(netns)[0]
    assert any(w.startswith('waited ') and 'seed.nodenet.network' in w for w in later['r']['warnings']), later['r']['warnings']
    assert lock.holder(netns) is None


def test_a_killed_holder_leaves_no_lock(netns, run_dir):
    """The kernel drops an flock with its holder: a holder killed -9 blocks nobody."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # child: take the lock, tell the parent, wait to be killed
        try:
            os.close(r)
            with lock.node_lock(netns, 0, 'child'):
                os.write(w, b'x')
                time.sleep(60)
        finally:
            os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b'x'
    os.close(r)
    assert lock.holder(netns)['pid'] == pid
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    assert lock.holder(netns) is None
    assert network.converge(state(3), netns=netns, lock_timeout=0)['changed']


def test_a_change_waiting_for_confirmation_holds_the_node(netns, run_dir):
    armed = {}
    network.converge(state(1), netns=netns,
                     on_applied=lambda journal, snaps: armed.update(agent.arm(journal, snaps, 60, netns)))
    assert armed['armed']
    with pytest.raises(lock.NodeLocked) as exc:
        network.converge(state(2), netns=netns, lock_timeout=1)
    assert exc.value.field == 'confirm'
    assert 'watchdog (pid %d)' % armed['watchdog_pid'] in str(exc.value) and 'waited 1 s' in str(exc.value)
    assert observed(netns) == expected(1)
    # check mode says so instead of waiting
    r = network.converge(state(2), netns=netns, check_mode=True)
    assert any('waiting for confirmation' in w for w in r['warnings']), r['warnings']
    assert agent.confirm(netns, wait=5)['confirmed']
    assert network.converge(state(2), netns=netns, purge=['addresses', 'routes'], lock_timeout=5)['changed']
    assert observed(netns) == expected(2)


@pytest.mark.parametrize('what', ['file', 'dir'])
def test_netns_that_is_not_a_namespace_is_refused(tmp_path, what):
    p = tmp_path / 'ns'
    if what == 'file':
        p.write_text('')
    else:
        p.mkdir()
    with pytest.raises(NetnsError) as exc:
        network.converge(state(1), netns=str(p))
    assert exc.value.field == 'netns'
    assert ('a plain file' if what == 'file' else 'a directory') in str(exc.value)
    assert 'not a network namespace' in str(exc.value)
    with pytest.raises(NodenetError):
        runner.converge({'link': [{'name': 'x0', 'kind': 'dummy'}]}, netns=str(p), check_mode=True)


def test_a_user_who_cannot_write_the_run_directory_runs_without_the_lock_and_is_told(netns, tmp_path, monkeypatch):
    """A file module run by an ordinary user on a file of their own: no lock of root's to wait for."""
    ro = tmp_path / 'ro'
    ro.mkdir()
    monkeypatch.setattr(agent, 'RUN_DIR', str(ro / 'run'))
    pid = os.fork()
    if pid == 0:   # as nobody: /run/nodenet-like directory not writable
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            r = lock.call(lambda: {'changed': False, 'warnings': []}, netns, False, 5, 'test')
            code = 0 if any('ran without the node lock' in w for w in r['warnings']) else 2
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0
