"""README command 1: scripts/cluster builds the 3+2 lab, applies playbooks/site.yml, prints a status table per
node and a connectivity matrix in which every node reaches every node; --clean removes the lab and everything it
started. Run under a unique lab name (NODENET_CLUSTER_LAB) so other checkouts on this machine are not disturbed."""
import os
import re
import subprocess
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODES = ('cp1', 'cp2', 'cp3', 'w1', 'w2')


def test_readme_cluster_command_then_clean():
    lab = 'nncl%s' % uuid.uuid4().hex[:6]
    env = dict(os.environ, NODENET_CLUSTER_LAB=lab)
    script = os.path.join(ROOT, 'scripts', 'cluster')
    try:
        p = subprocess.run([script], capture_output=True, text=True, env=env, check=False)
        out = p.stdout
        assert p.returncode == 0, out[-4000:] + p.stderr[-3000:]
        recap = dict(re.findall(r'^(\w+)\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=(\d+)', out, re.M))
        assert sorted(recap) == sorted(NODES) and set(recap.values()) == {'0'}, recap
        for node in NODES:          # a table per node: its addresses and its 4 mesh peers
            assert re.search(r'^%s  \((controlplane|worker), %s\.lab\.example\)$' % (node, node), out, re.M), node
        assert len(re.findall(r'^  mesh wg0   port 51820, 4 peer\(s\)$', out, re.M)) == 5
        assert 'reachability over nodes' in out and 'reachability over mesh' in out
        rows = re.findall(r'^(cp\d|w\d)\s+((?:-|ok/ok|ok|NO\S*|\?)\s+){5}$', out, re.M)
        assert len(rows) == 10, out[-3000:]
        assert out.rstrip().splitlines()[-2] == 'connectivity: every node reaches every node'
    finally:
        c = subprocess.run([script, '--clean'], capture_output=True, text=True, env=env, check=False)
    assert c.returncode == 0, c.stdout + c.stderr
    left = subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=True).stdout
    assert lab + '-' not in left and not os.path.exists('/run/nodenet/lab/' + lab)
