"""The firewall derived from the add-on choices, applied on a lab node and probed with real packets.

Own namespaces (unique names): `node` (bridge br0, 10.77.0.1/24 and fd77::1/64), `peer` (another
cluster node: 10.77.0.10, fd77::10, inside the node network 10.77.0.0/25, fd77::/121) and
`outside` (10.77.0.200, fd77::c8: same segment, outside the node network). The firewall role runs
with nodenet_cluster = Cilium VXLAN + WireGuard, MetalLB L2 and a keepalived VIP, on a control
plane. Expected: the chosen ports (Cilium VXLAN 8472, health 4240, WireGuard 51871, MetalLB
memberlist 7946 TCP+UDP, VRRP) open from the peer and dropped from outside; the ports of what was
not chosen (Geneve 6081, Calico VXLAN 4789 and BGP 179, WireGuard 51820, Hubble 4244) dropped from
both; the installed rules are exactly the role's base rules plus the derived ones.
"""
import os
import re
import socket
import subprocess
import sys
import threading
import uuid

import pytest
import yaml

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import firewall as fw
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import runner
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import in_netns

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, '.venv', 'bin')
sys.path.insert(0, os.path.join(ROOT, 'tests', 'kernel'))
from test_firewall_traffic import Servers, tcp_probe, udp_probe  # noqa: E402
from testlib import sh

NODE4, PEER4, OUT4 = '10.77.0.1', '10.77.0.10', '10.77.0.200'
NODE6, PEER6, OUT6 = 'fd77::1', 'fd77::10', 'fd77::c8'
CHOSEN = [('udp', 8472), ('tcp', 4240), ('udp', 51871), ('tcp', 7946), ('udp', 7946)]
NOT_CHOSEN = [('udp', 6081), ('udp', 4789), ('tcp', 179), ('udp', 51820), ('tcp', 4244)]
CLUSTER = {
    'networks': [{'name': 'nodes', 'cidrs': ['10.77.0.0/25', 'fd77::/121'], 'mtu': 1500}],
    'pod_cidrs': ['10.244.0.0/16'],
    'service_cidrs': ['10.96.0.0/12'],
    'vip': {'address': '10.77.0.100', 'provider': 'keepalived'},
    'cni': {'plugin': 'cilium', 'mode': 'vxlan', 'encryption': 'wireguard'},
    'metallb': {'mode': 'l2', 'pools': [{'name': 'default', 'addresses': ['10.77.0.64-10.77.0.80']}]},
}


@pytest.fixture
def lab():
    tag = uuid.uuid4().hex[:6]
    names = {'node': 'nnaf-%s-n' % tag, 'peer': 'nnaf-%s-p' % tag, 'outside': 'nnaf-%s-o' % tag}
    for ns in names.values():
        sh('ip', 'netns', 'add', ns)
    servers = []
    try:
        node = names['node']
        sh('ip', '-n', node, 'link', 'set', 'lo', 'up')
        sh('ip', '-n', node, 'link', 'add', 'br0', 'type', 'bridge')
        sh('ip', '-n', node, 'link', 'set', 'br0', 'up')
        sh('ip', '-n', node, 'addr', 'add', NODE4 + '/24', 'dev', 'br0')
        sh('ip', '-n', node, 'addr', 'add', NODE6 + '/64', 'dev', 'br0', 'nodad')
        for role, a4, a6 in (('peer', PEER4, PEER6), ('outside', OUT4, OUT6)):
            ns = names[role]
            sh('ip', '-n', node, 'link', 'add', 'to-' + role[:3], 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
            sh('ip', '-n', node, 'link', 'set', 'to-' + role[:3], 'master', 'br0', 'up')
            sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
            sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
            sh('ip', '-n', ns, 'addr', 'add', a4 + '/24', 'dev', 'eth0')
            sh('ip', '-n', ns, 'addr', 'add', a6 + '/64', 'dev', 'eth0', 'nodad')
        servers.append(Servers(node, sorted(p for t, p in CHOSEN + NOT_CHOSEN if t == 'tcp'),
                               sorted(p for t, p in CHOSEN + NOT_CHOSEN if t == 'udp')))
        yield names
    finally:
        for s in servers:
            s.close()
        for ns in names.values():
            sh('ip', 'netns', 'del', ns, check=False)


def vrrp_probe(lab, src_role, dst):
    """'open' when a VRRP packet (IP protocol 112) sent from src_role reaches a raw socket on the node."""
    fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
    rx = in_netns(lab['node'], lambda: socket.socket(fam, socket.SOCK_RAW, 112))
    rx.settimeout(0.5)
    got = []

    def recv():
        try:
            while True:
                data, peer = rx.recvfrom(2048)
                if b'nodenet-vrrp' in data:
                    got.append(peer[0])
                    return
        except socket.timeout:
            return
    t = threading.Thread(target=recv)
    t.start()

    def send():
        s = socket.socket(fam, socket.SOCK_RAW, 112)
        try:
            s.sendto(b'nodenet-vrrp', (dst, 0))
        finally:
            s.close()
    in_netns(lab[src_role], send)
    t.join(3)
    rx.close()
    return 'open' if got else 'dropped'


def run_role(lab, tmp_path, **extra):
    varsfile = tmp_path / 'vars.yml'
    varsfile.write_text(yaml.safe_dump(dict({
        'nodenet_cluster': CLUSTER, 'firewall_netns': lab['node'], 'firewall_node_role': 'controlplane',
        'firewall_cluster_subnets': ['10.77.0.0/25', 'fd77::/121'], 'firewall_admin_subnets': ['10.77.0.0/25']}, **extra)))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'), ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1',
               PATH=VENV + os.pathsep + os.environ['PATH'])
    p = subprocess.run([os.path.join(VENV, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                        os.path.join(HERE, 'playbooks', 'addons_firewall.yml'), '-e', '@%s' % varsfile],
                       capture_output=True, text=True, env=env, check=False)
    m = re.search(r'localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', p.stdout)
    assert p.returncode == 0 and m, p.stdout[-4000:] + p.stderr[-2000:]
    return int(m.group(2))


def test_derived_firewall_opens_the_chosen_ports_between_nodes_only(lab, tmp_path):
    # control: before any policy, every probed port answers from both sides
    for proto, port in CHOSEN + NOT_CHOSEN:
        probe = tcp_probe if proto == 'tcp' else udp_probe
        assert probe(lab['outside'], NODE4, port) == 'open', (proto, port)
    assert vrrp_probe(lab, 'outside', NODE4) == 'open'

    assert run_role(lab, tmp_path) > 0
    listing = fw.parse_table(json_listing(lab['node']))[0]
    names = sorted(set(r['comment'] for r in listing['rules'] if not r['comment'].startswith(fw.BUILTIN)))
    assert names == sorted(['ssh', 'kubernetes-api', 'etcd', 'kubelet', 'kube-proxy-health',
                            'cilium-vxlan', 'cilium-health', 'cilium-health-icmp', 'cilium-health-icmpv6',
                            'cilium-wireguard', 'metallb-memberlist', 'metallb-memberlist-udp', 'vip-vrrp'])
    failures = []
    for proto, port in CHOSEN + NOT_CHOSEN:
        probe = tcp_probe if proto == 'tcp' else udp_probe
        for src, dst in (('peer', NODE4), ('peer', NODE6), ('outside', NODE4), ('outside', NODE6)):
            want = 'open' if (proto, port) in CHOSEN and src == 'peer' else 'dropped'
            got = probe(lab[src], dst, port)
            if got != want:
                failures.append('%s %d from %s to %s: %s, expected %s' % (proto, port, src, dst, got, want))
    for src, dst, want in (('peer', NODE4, 'open'), ('peer', NODE6, 'open'),
                           ('outside', NODE4, 'dropped'), ('outside', NODE6, 'dropped')):
        got = vrrp_probe(lab, src, dst)
        if got != want:
            failures.append('vrrp from %s to %s: %s, expected %s' % (src, dst, got, want))
    assert not failures, '\n'.join(failures)
    # the same cluster description again: nothing to change
    assert run_role(lab, tmp_path) == 0


def json_listing(netns):
    import json
    return json.loads(sh('ip', 'netns', 'exec', netns, 'nft', '-j', 'list', 'table', 'inet', 'nodenet').stdout)


def test_vrrp_and_ipencap_rules_apply_and_read_back_in_the_kernel(lab):
    params = {'default_action': 'block', 'rules': [
        {'name': 'vrrp', 'port_selector': {'protocol': 'vrrp'}, 'ingress': [{'subnet': '10.77.0.0/25'}, {'subnet': 'fd77::/121'}]},
        {'name': 'calico-ipip', 'port_selector': {'protocol': 'ipencap'}, 'ingress': [{'subnet': '10.77.0.0/25'}]}]}
    first = runner.single('firewall', params, netns=lab['node'], context={'environ': {}})
    assert first['changed']
    again = runner.single('firewall', params, netns=lab['node'], context={'environ': {}})
    assert not again['changed'], again
    assert vrrp_probe(lab, 'peer', NODE4) == 'open' and vrrp_probe(lab, 'outside', NODE4) == 'dropped'
