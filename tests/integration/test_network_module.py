"""Integration tier for seed.nodenet.network: a whole node from empty in one task, check mode,
idempotence, and a failure part way compared through network_info."""
import subprocess
import time

from .test_playbooks import links, netns, playbook  # noqa: F401 (netns is a fixture)


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
    # let the kernel finish giving the links their own IPv6 link-local addresses
    t0 = time.time()
    while subprocess.run(['ip', '-n', netns, '-6', 'addr'], capture_output=True, text=True).stdout.count('fe80') < 2 \
            and time.time() - t0 < 30:
        time.sleep(0.2)
    r = playbook('network_rollback.yml', netns)
    assert r['rc'] == 0 and r['failed'] == 0, r['out'][-4000:]
