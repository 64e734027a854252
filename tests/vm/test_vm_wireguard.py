"""VM tier: WireGuard through the kernel backend (generic netlink), which this host's kernel lacks.

The same scenario as tests/kernel/test_wireguard.py (userspace backend there), batched into one
test with in-process engine calls because everything is slow under emulation: two namespaces
joined by a veth, a tunnel configured only through the engine, real TCP through it, peers added
(the unchanged one keeps its handshake), changed and removed, a rolled-back change, removal.
Independent checks: `wg show <link> dump` (wireguard-tools over the same netlink family) and `ip -j`.
Run with scripts/test-vm (skipped elsewhere, see conftest.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import shutil
import socket
import threading
import uuid

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import wg
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import wireguard_backends as wgb
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import in_netns
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import converge
from testlib import sh, user_result


def keypair():
    raw = wg.generate_private_key()
    return wg.b64(raw), wg.b64(wg.public_key(raw))


def secret_forms(b64key):
    return [b64key, binascii.hexlify(base64.b64decode(b64key)).decode()]


class Node:
    def __init__(self, ns, name, underlay, tunnel):
        self.ns, self.wg, self.underlay, self.tunnel = ns, name, underlay, tunnel
        self.private, self.public = keypair()

    def apply(self, desired, **kw):
        return user_result(converge(desired, netns=self.ns, **kw), keep=('_state',))

    def dump(self):
        out = sh('ip', 'netns', 'exec', self.ns, 'wg', 'show', self.wg, 'dump').stdout.splitlines()
        dev = out[0].split('\t')
        peers = {}
        for line in out[1:]:
            c = line.split('\t')
            peers[c[0]] = {'preshared_key': c[1], 'endpoint': c[2],
                           'allowed_ips': sorted(c[3].split(',')) if c[3] != '(none)' else [],
                           'latest_handshake': int(c[4]), 'keepalive': c[7]}
        return {'public_key': dev[1], 'listen_port': int(dev[2]), 'fwmark': dev[3], 'peers': peers}


def tunnel(node, peer, port_self, port_peer, psk=None, extra_peers=(), **kw):
    p = {'public_key': peer.public, 'endpoint': '%s:%d' % (peer.underlay, port_peer), 'allowed_ips': [peer.tunnel + '/32']}
    if psk:
        p['preshared_key'] = psk
    entry = dict({'name': node.wg, 'backend': 'auto', 'private_key': node.private, 'listen_port': port_self,
                  'up': True, 'peers': [p] + list(extra_peers)}, **kw)
    return {'wireguard': [entry], 'address': [{'address': node.tunnel + '/24', 'link': node.wg}]}


def tcp_exchange(server, client, port):
    srv = in_netns(server.ns, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    srv.bind((server.tunnel, port))
    srv.listen(1)
    srv.settimeout(60)

    def serve():
        try:
            conn, dummy = srv.accept()
            with conn:
                conn.sendall(conn.recv(1024).upper())
        except OSError:
            pass
    t = threading.Thread(target=serve)
    t.start()
    try:
        cli = in_netns(client.ns, lambda: socket.create_connection((server.tunnel, port), timeout=60))
        with cli:
            cli.sendall(b'hello through wireguard')
            return cli.recv(1024)
    finally:
        t.join(65)
        srv.close()


@pytest.fixture
def pair():
    tag = uuid.uuid4().hex[:6]
    a = Node('nnwg-vm-%s-a' % tag, 'wg0', '192.0.2.1', '10.77.0.1')
    b = Node('nnwg-vm-%s-b' % tag, 'wg0', '192.0.2.2', '10.77.0.2')   # same name: per namespace in the kernel
    for n in (a, b):
        sh('ip', 'netns', 'add', n.ns)
    try:
        sh('ip', '-n', a.ns, 'link', 'add', 've0', 'type', 'veth', 'peer', 'name', 've0', 'netns', b.ns)
        for n in (a, b):
            sh('ip', '-n', n.ns, 'address', 'add', n.underlay + '/24', 'dev', 've0')
            sh('ip', '-n', n.ns, 'link', 'set', 've0', 'up')
            sh('ip', '-n', n.ns, 'link', 'set', 'lo', 'up')
        yield a, b
    finally:
        for n in (a, b):
            sh('ip', 'netns', 'del', n.ns, check=False)


def test_kernel_backend_tunnel_peers_rollback_removal(pair):
    assert shutil.which('wg'), 'wireguard-tools (wg) is needed: run scripts/setup'
    assert wgb.kernel_has_wireguard()
    a, b = pair
    psk = wg.b64(wg.generate_private_key())
    ra = a.apply(tunnel(a, b, 51820, 51821, psk=psk), diff_mode=True)
    b.apply(tunnel(b, a, 51821, 51820, psk=psk))
    assert ra['operations'] == ['create wireguard wg0', 'create address wg0 10.77.0.1/24']
    assert ra['_state']['wireguard']['wg0']['backend'] == 'kernel'
    link = json.loads(sh('ip', '-j', '-d', '-n', a.ns, 'link', 'show', 'wg0').stdout)[0]
    assert link['linkinfo']['info_kind'] == 'wireguard' and 'UP' in link['flags']
    da = a.dump()
    assert da['public_key'] == a.public and da['listen_port'] == 51820 and list(da['peers']) == [b.public]
    assert da['peers'][b.public]['endpoint'] == '192.0.2.2:51821' and da['peers'][b.public]['preshared_key'] == psk
    text = json.dumps(ra['diff'])
    for s in secret_forms(a.private) + secret_forms(psk):
        assert s not in text

    assert tcp_exchange(b, a, 7001) == b'HELLO THROUGH WIREGUARD'
    r = a.apply(tunnel(a, b, 51820, 51821, psk=psk))
    assert r['changed'] is False and r['operations'] == []

    info = gather(a.ns, ['wireguard'])['wireguard']
    peer = info[0]['peers'][0]
    assert info[0]['public_key'] == a.public and peer['endpoint'] == '192.0.2.2:51821'
    assert peer['latest_handshake'] and peer['rx_bytes'] > 0 and peer['tx_bytes'] > 0
    for s in secret_forms(a.private) + secret_forms(psk):
        assert s not in json.dumps(info)
    handshake = a.dump()['peers'][b.public]['latest_handshake']

    # add a peer: the unchanged one keeps its session
    c_pub = keypair()[1]
    extra = {'public_key': c_pub, 'endpoint': '[2001:db8::3]:51823', 'allowed_ips': ['10.77.0.3/32', 'fd77::3/128'],
             'persistent_keepalive_interval': 25}
    r = a.apply(tunnel(a, b, 51820, 51821, psk=psk, extra_peers=[extra]))
    assert r['operations'] == ['modify wireguard wg0']
    da = a.dump()
    assert da['peers'][c_pub]['endpoint'] == '[2001:db8::3]:51823' and da['peers'][c_pub]['keepalive'] == '25'
    assert da['peers'][c_pub]['allowed_ips'] == ['10.77.0.3/32', 'fd77::3/128']
    assert da['peers'][b.public]['latest_handshake'] == handshake

    # a failure after the change: the previous peer set, mark and MTU are back
    before = a.dump()
    change = tunnel(a, b, 51820, 51821, firewall_mark=7, mtu=1380)
    change['address'] = [{'address': '10.77.9.1/24', 'link': 'wg0'}]
    with pytest.raises(ApplyError) as exc:
        a.apply(change, fail_after=1)
    assert 'rolled back' in str(exc.value)
    after = a.dump()
    for d in (before, after):
        for p in d['peers'].values():
            p.pop('latest_handshake')
    assert after == before
    assert json.loads(sh('ip', '-j', '-n', a.ns, 'link', 'show', 'wg0').stdout)[0]['mtu'] == 1420

    # change the existing peer (no preshared key, more allowed IPs), then remove peers
    changed = tunnel(a, b, 51820, 51821, extra_peers=[extra])
    changed['wireguard'][0]['peers'][0]['allowed_ips'].append('10.78.0.0/16')
    a.apply(changed)
    b.apply(tunnel(b, a, 51821, 51820))
    da = a.dump()
    assert da['peers'][b.public]['allowed_ips'] == ['10.77.0.2/32', '10.78.0.0/16'] and da['peers'][b.public]['preshared_key'] == '(none)'
    assert tcp_exchange(b, a, 7002) == b'HELLO THROUGH WIREGUARD'
    a.apply(tunnel(a, b, 51820, 51821))
    assert list(a.dump()['peers']) == [b.public]
    a.apply({'wireguard': [{'name': 'wg0', 'peers': []}]})
    assert a.dump()['peers'] == {}

    # a failed run that removed the link brings it back with the same key and peers
    before = a.dump()
    with pytest.raises(ApplyError):
        a.apply({'wireguard': [{'name': 'wg0', 'state': 'absent'}],
                 'address': [{'address': '192.0.2.11/24', 'link': 've0'}]}, fail_after=1)
    assert a.dump() == before and 'UP' in json.loads(sh('ip', '-j', '-n', a.ns, 'link', 'show', 'wg0').stdout)[0]['flags']

    # asking for the other backend is refused; removal deletes the link
    with pytest.raises(Exception) as exc:
        a.apply({'wireguard': [{'name': 'wg0', 'backend': 'userspace'}]})
    assert exc.value.field == 'backend'
    r = a.apply({'wireguard': [{'name': 'wg0', 'state': 'absent'}]})
    assert r['operations'] == ['delete wireguard wg0']
    assert 'wg0' not in sh('ip', '-n', a.ns, '-o', 'link').stdout
