"""Integration tier for seed.nodenet.network: a whole node from empty in one task, check mode,
idempotence, and a failure part way compared through network_info."""
import os
import subprocess
import time

# netns is a fixture
from .test_playbooks import links, netns, playbook  # noqa: F401 pylint: disable=unused-import


def test_whole_node_in_one_task_check_run_idempotent(netns, tmp_path):  # noqa: F811
    hosts = tmp_path / 'hosts'
    hosts.write_text('127.0.0.1 localhost\n')
    empty = links(netns)
    r = playbook('network.yml', netns, '--check', '--diff', '-e', 'hosts_path=%s' % hosts)
    assert r['rc'] == 0 and r['changed'] == 1, r['out'][-3000:]
    assert 'links: vx0 (after)' in r['out'] and 'routes: 10.20.0.0/16 table 100 metric 0 (after)' in r['out']
    assert links(netns) == empty and hosts.read_text() == '127.0.0.1 localhost\n', 'check mode changed something'
    r = playbook('network.yml', netns, '-e', 'hosts_path=%s' % hosts)
    assert r['rc'] == 0 and r['changed'] == 1 and r['failed'] == 0, r['out'][-3000:]
    r = playbook('network.yml', netns, '--check', '-e', 'hosts_path=%s' % hosts)
    assert r['rc'] == 0 and r['changed'] == 0, r['out'][-3000:]
    r = playbook('network.yml', netns, '-e', 'hosts_path=%s' % hosts)
    assert r['rc'] == 0 and r['changed'] == 0, r['out'][-3000:]


def test_failure_part_way_leaves_network_info_unchanged(netns):  # noqa: F811
    for cmd in (['link', 'add', 'eth0', 'type', 'veth', 'peer', 'sw0'], ['link', 'set', 'eth0', 'up'],
                ['link', 'set', 'sw0', 'up'], ['addr', 'add', '192.0.2.10/24', 'dev', 'eth0'],
                ['route', 'add', '10.1.0.0/16', 'via', '192.0.2.1']):
        subprocess.run(['ip', '-n', netns] + cmd, check=True)
    # let the kernel finish giving the links their own IPv6 link-local addresses (and their DAD),
    # which it does by itself after a link comes up: network_info is compared exactly

    def settled():
        out = subprocess.run(['ip', '-n', netns, '-6', 'addr'], capture_output=True, text=True, check=True).stdout
        return out.count('fe80') >= 2 and 'tentative' not in out
    t0 = time.time()
    while not settled() and time.time() - t0 < 30:
        time.sleep(0.2)
    r = playbook('network_rollback.yml', netns)
    assert r['rc'] == 0 and r['failed'] == 0, r['out'][-4000:]


def test_persist_boot_command_restores_the_node_and_persist_false_removes_it(netns, tmp_path):  # noqa: F811
    import json
    import shlex
    root = tmp_path / 'root'
    r = playbook('network_persist.yml', netns, '-e', 'persist=true', '-e', 'root=%s' % root)
    assert r['rc'] == 0 and r['changed'] == 1, r['out'][-3000:]
    r = playbook('network_persist.yml', netns, '-e', 'persist=true', '-e', 'root=%s' % root)
    assert r['rc'] == 0 and r['changed'] == 0, r['out'][-3000:]
    unit = (root / 'etc/systemd/system/nodenet.service').read_text()
    assert (root / 'etc/systemd/system/multi-user.target.wants/nodenet.service').resolve() == \
        root / 'etc/systemd/system/nodenet.service'
    assert os.stat(root / 'etc/nodenet/state.json').st_mode & 0o777 == 0o600

    def info():
        out = subprocess.run(['ip', '-j', '-n', netns, 'addr'], capture_output=True, text=True, check=True).stdout
        addrs = sorted((l['ifname'], a['local'], l['mtu']) for l in json.loads(out) for a in l['addr_info'] if a['scope'] == 'global')
        routes = subprocess.run(['ip', '-n', netns, 'route', 'show', 'table', 'all'], capture_output=True, text=True, check=True).stdout
        rules = subprocess.run(['ip', '-n', netns, 'rule'], capture_output=True, text=True, check=True).stdout
        return addrs, sorted(l for l in routes.splitlines() if 'proto static' in l), rules
    want = info()
    assert len(want[0]) == 2 and len(want[1]) == 2
    # "reboot": the namespace loses its network; the unit's command brings it back
    subprocess.run(['ip', '-n', netns, 'link', 'del', 'eth0'], check=True)
    subprocess.run(['ip', '-n', netns, 'rule', 'del', 'priority', '1000'], check=True)
    assert info() != want
    cmd = [l.split('=', 1)[1] for l in unit.splitlines() if l.startswith('ExecStart=')][0]
    env = dict((k, v) for k, v in os.environ.items() if k not in ('PYTHONPATH', 'ANSIBLE_COLLECTIONS_PATH'))
    p = subprocess.run(shlex.split(cmd), capture_output=True, text=True, env=env, cwd='/', check=False)
    assert p.returncode == 0, p.stderr
    assert info() == want
    r = playbook('network_persist.yml', netns, '-e', 'persist=false', '-e', 'root=%s' % root)
    assert r['rc'] == 0 and r['changed'] == 1, r['out'][-3000:]
    assert [str(p) for p in root.rglob('*') if not p.is_dir()] == []


def test_modules_load_the_engine_from_the_bytecode_cache(netns, tmp_path, monkeypatch):  # noqa: F811
    """Through ansible-playbook (the engine in Ansible's module zip): the first task compiles the engine
    into $NODENET_RUN_DIR/bytecode, later tasks and runs load it from there and compile nothing."""
    run = tmp_path / 'run'
    monkeypatch.setenv('NODENET_RUN_DIR', str(run))
    hosts = tmp_path / 'hosts'
    hosts.write_text('127.0.0.1 localhost\n')
    r = playbook('network.yml', netns, '--check', '-e', 'hosts_path=%s' % hosts)
    assert r['rc'] == 0 and r['changed'] == 1, r['out'][-3000:]
    cache = run / 'bytecode'
    first = dict((e.name, e.stat().st_mtime_ns) for e in os.scandir(str(cache)))
    assert len(first) >= 40, sorted(first)
    r = playbook('network.yml', netns, '--check', '-e', 'hosts_path=%s' % hosts)
    assert r['rc'] == 0 and r['changed'] == 1, r['out'][-3000:]
    assert dict((e.name, e.stat().st_mtime_ns) for e in os.scandir(str(cache))) == first
