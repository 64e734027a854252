"""README command 1: scripts/demo applies the sample node (one network task and a firewall) to a
scratch namespace, a second run reports changed=0, and --clean removes the namespace."""
import json
import os
import re
import subprocess
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_demo_applies_then_is_idempotent_then_cleans_up():
    ns = 'nnd-%s' % uuid.uuid4().hex[:8]
    env = dict(os.environ, NODENET_DEMO_NETNS=ns)
    try:
        p = subprocess.run([os.path.join(ROOT, 'scripts', 'demo')], capture_output=True, text=True, env=env, check=False)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        recaps = re.findall(r'localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', p.stdout)
        assert len(recaps) == 2, p.stdout[-3000:]
        (dummy, changed1, dummy, failed1), (dummy, changed2, dummy, failed2) = recaps
        assert (changed1, failed1) == ('2', '0') and (changed2, failed2) == ('0', '0'), recaps
        # the status table reads like `ip route`: route types and table names, never a None or null
        status = p.stdout[p.stdout.index('TASK [Show the status'):p.stdout.index('PLAY RECAP')]
        assert 'None' not in status and 'null' not in status, status
        for route in ('default  via 192.0.2.1  dev uplink0  table main', 'blackhole  10.96.0.0/12  table main',
                      '10.244.1.0/24  dev vxlan100  table main', 'default  via 2001:db8:10::1  dev uplink0  table main',
                      '203.0.113.0/24  via 198.51.100.1  dev workload0  table 100'):
            assert route in status, status
        assert 'lo  loopback  65536' in status, status
        links = json.loads(subprocess.run(['ip', '-j', '-n', ns, 'link', 'show'], capture_output=True, text=True, check=True).stdout)
        by_name = dict((l['ifname'], l) for l in links)
        assert by_name['vm0']['master'] == 'br-vms' and by_name['uplink0']['mtu'] == 9000
        tables = subprocess.run(['ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'tables'], capture_output=True, text=True, check=True).stdout
        assert any(t.get('table', {}).get('name') == 'nodenet' for t in json.loads(tables)['nftables'])
    finally:
        subprocess.run([os.path.join(ROOT, 'scripts', 'demo'), '--clean'], env=env, capture_output=True, check=False)
    assert ns not in subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=True).stdout
