"""A small lab for the VIP role's failover benchmark (benchmarks/vip_failover.py), built directly with
`ip`: control-plane nodes and a client, each a network namespace with eth0 on one
switch (a bridge in a namespace of its own), a TCP listener on each node's port 6443 standing in for the
Kubernetes API server (it answers every connection with the node's name), and the role run with
ansible-playbook against the nodes (connection local, `vip_netns` = the node's namespace).

Every name is unique per lab (namespaces, run directories), so labs of parallel runs never meet."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(ROOT, '.venv', 'bin')
RECAP = re.compile(r'^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)

LISTENER = r'''
import socket, sys, threading
name = sys.argv[1].encode()
def serve(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, 6443))
    s.listen(64)
    while True:
        c, _ = s.accept()
        try:
            c.sendall(name)
        finally:
            c.close()
threading.Thread(target=serve, args=(socket.AF_INET6, '::'), daemon=True).start()
print('ready', flush=True)
serve(socket.AF_INET, '0.0.0.0')
'''


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def wait_for(what, pred, timeout=30.0, step=0.05):
    """Bounded polling: pred() until truthy (returned) or `timeout` seconds (AssertionError naming `what`)."""
    deadline = time.monotonic() + timeout
    while True:
        val = pred()
        if val:
            return val
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %.0f s waiting for %s' % (timeout, what))
        time.sleep(step)


class Lab(object):
    V4 = '192.168.77.%d'
    V6 = 'fd00:77::%d'
    VIP4 = '192.168.77.50'
    VIP6 = 'fd00:77::50'

    def __init__(self, nodes=3):
        tag = uuid.uuid4().hex[:6]
        self.tag = tag
        self.sw = 'nnv-%s-sw' % tag
        self.nodes = ['cp%d' % (i + 1) for i in range(nodes)]
        self.ns = dict((n, 'nnv-%s-%s' % (tag, n)) for n in self.nodes + ['client'])
        self.ip4 = dict((n, self.V4 % (11 + i)) for i, n in enumerate(self.nodes))
        self.ip6 = dict((n, self.V6 % (11 + i)) for i, n in enumerate(self.nodes))
        self.ip4['client'], self.ip6['client'] = self.V4 % 100, self.V6 % 100
        self.tmp = tempfile.mkdtemp(prefix='nnv-%s-' % tag)
        self.run_dir = '/run/nodenet-vip-test-%s' % tag
        self.listeners = {}

    # ------------------------------------------------------------ build / tear down
    def build(self):
        sh('ip', 'netns', 'add', self.sw)
        sh('ip', '-n', self.sw, 'link', 'add', 'br0', 'type', 'bridge')
        sh('ip', '-n', self.sw, 'link', 'set', 'br0', 'up')
        for i, (node, ns) in enumerate(sorted(self.ns.items())):
            sh('ip', 'netns', 'add', ns)
            for k in ('net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'):
                sh('ip', 'netns', 'exec', ns, 'sysctl', '-qw', k)
            port = 'p%d' % i
            sh('ip', '-n', self.sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
            sh('ip', '-n', self.sw, 'link', 'set', port, 'master', 'br0', 'up')
            sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
            sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
            sh('ip', '-n', ns, 'addr', 'add', self.ip4[node] + '/24', 'dev', 'eth0')
            sh('ip', '-n', ns, 'addr', 'add', self.ip6[node] + '/64', 'dev', 'eth0', 'nodad')
        for node in self.nodes:
            self.start_listener(node)
        return self

    def start_listener(self, node):
        p = subprocess.Popen(['ip', 'netns', 'exec', self.ns[node], sys.executable, '-c', LISTENER, node],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert p.stdout.readline().strip() == 'ready', 'listener on %s did not start' % node
        self.listeners[node] = p

    def stop_listener(self, node):
        p = self.listeners.pop(node, None)
        if p:
            p.kill()
            p.wait()

    def destroy(self):
        for node in list(self.listeners):
            self.stop_listener(node)
        for node in self.nodes:
            sup = os.path.join(self.run_dir, node, 'supervise.sh')
            if os.path.exists(sup):
                sh(sup, 'stop', check=False)
        for ns in list(self.ns.values()) + [self.sw]:
            sh('ip', 'netns', 'del', ns, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    # ------------------------------------------------------------ the role, as a user runs it
    def inventory(self, **cluster_vip):
        vip = dict({'address': self.VIP4, 'address6': self.VIP6, 'link': 'eth0', 'provider': 'keepalived'}, **cluster_vip)
        hosts = {}
        for node in self.nodes:
            hosts[node] = {
                'ansible_connection': 'local', 'ansible_python_interpreter': os.path.join(VENV, 'python'),
                'vip_netns': self.ns[node],
                'vip_run_dir': os.path.join(self.run_dir, node),
                'nodenet_network': {'addresses': [{'address': self.ip4[node] + '/24', 'link': 'eth0'},
                                                  {'address': self.ip6[node] + '/64', 'link': 'eth0'}]},
            }
        inv = {'all': {'vars': {'nodenet_cluster': {'vip': vip}, 'vip_keepalived_install': False},
                       'children': {'control_plane': {'hosts': hosts}}}}
        path = os.path.join(self.tmp, 'inventory.json')
        with open(path, 'w') as fh:
            json.dump(inv, fh)
        return path

    def playbook(self, inventory, *extra, extra_vars=None):
        play = os.path.join(self.tmp, 'vip.yml')
        with open(play, 'w') as fh:
            fh.write('- hosts: control_plane\n  gather_facts: false\n  roles: [seed.nodenet.vip]\n')
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
                   ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_NOCOLOR='1', PATH=VENV + os.pathsep + os.environ['PATH'])
        cmd = [os.path.join(VENV, 'ansible-playbook'), '-i', inventory, play] + list(extra)
        if extra_vars:
            cmd += ['-e', json.dumps(extra_vars)]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        recap = dict((m.group(1), {'changed': int(m.group(3)), 'failed': int(m.group(5)) + int(m.group(4))})
                     for m in RECAP.finditer(p.stdout))
        return {'rc': p.returncode, 'recap': recap, 'out': p.stdout + p.stderr}

    def supervise(self, node, action):
        return sh(os.path.join(self.run_dir, node, 'supervise.sh'), action, check=False)

    # ------------------------------------------------------------ what a user checks
    def holders(self, address=None):
        """Nodes that have the VIP on eth0 now."""
        address = address or self.VIP4
        out = []
        for node in self.nodes:
            addrs = json.loads(sh('ip', '-j', '-n', self.ns[node], 'addr', 'show', 'dev', 'eth0').stdout or '[]')
            if any(a.get('local') == address for link in addrs for a in link.get('addr_info', [])):
                out.append(node)
        return out

    def holder(self, address=None, timeout=30.0, not_=None):
        """The one node holding the VIP once exactly one (other than `not_`) does (bounded wait)."""
        def one():
            h = self.holders(address)
            return h[0] if len(h) == 1 and h[0] != not_ else None
        return wait_for('exactly one holder of %s%s' % (address or self.VIP4, ' other than %s' % not_ if not_ else ''),
                        one, timeout)

    def ask(self, address=None, timeout=0.3):
        """Connect from the client to address:6443; the node name that answered, or None."""
        fam = socket.AF_INET6 if ':' in (address or self.VIP4) else socket.AF_INET
        cmd = ('import socket,sys\ns=socket.socket(%d,socket.SOCK_STREAM);s.settimeout(%s)\n'
               'try:\n s.connect((%r,6443));print(s.recv(64).decode())\nexcept OSError:\n print("")\n'
               % (fam, timeout, address or self.VIP4))
        return sh('ip', 'netns', 'exec', self.ns['client'], sys.executable, '-c', cmd).stdout.strip() or None


PROBE = r'''
import socket, sys, time
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
interval, duration = float(sys.argv[2]), float(sys.argv[3])
end = time.monotonic() + duration
print('start', time.monotonic(), flush=True)
while time.monotonic() < end:
    t = time.monotonic()
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(interval)
    try:
        s.connect((sys.argv[1], 6443))
        print(t, s.recv(64).decode(), flush=True)
    except OSError:
        print(t, '-', flush=True)
    finally:
        s.close()
    rest = interval - (time.monotonic() - t)
    if rest > 0:
        time.sleep(rest)
'''


class Probe(object):
    """A client-side prober: connects to the VIP every `interval` s and records who answered when.
    failover(): last answer from `old` to first answer from anyone else, in seconds."""

    def __init__(self, lab, address=None, interval=0.02, duration=60.0):
        self.p = subprocess.Popen(['ip', 'netns', 'exec', lab.ns['client'], sys.executable, '-c', PROBE,
                                   address or lab.VIP4, str(interval), str(duration)],
                                  stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().startswith('start')

    def stop(self):
        self.p.terminate()
        out = self.p.communicate()[0]
        rows = []
        for line in out.splitlines():
            t, who = line.split(' ', 1)
            rows.append((float(t), who.strip()))
        return rows

    @staticmethod
    def failover(rows, old):
        last_old = max((t for t, who in rows if who == old), default=None)
        first_new = min((t for t, who in rows if who not in (old, '-') and (last_old is None or t > last_old)), default=None)
        if last_old is None or first_new is None:
            return None
        return first_new - last_old
