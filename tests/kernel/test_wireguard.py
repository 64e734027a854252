"""WireGuard on this host's kernel through the userspace backend (wireguard-go, UAPI socket).

Two namespaces joined by a veth; the tunnel between them is configured only through the engine
(the same code the wireguard module runs); checked with `wg show ... dump` (wireguard-tools talks
to the same UAPI socket, the namespace's own: see wg_show) and real TCP through the tunnel addresses.
The kernel backend is tested in the VM tier (tests/vm/test_vm_wireguard.py).
"""
import base64
import binascii
import json
import os
import shutil
import socket
import stat
import threading
import time
import uuid

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import wg
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import wireguard_backends as wgb
from testlib import remove_wireguard_nodes
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import in_netns
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import converge
from testlib import sh, user_result

pytestmark = pytest.mark.skipif(shutil.which('wireguard-go') is None or shutil.which('wg') is None,
                                reason='wireguard-go and wg (wireguard-tools) are needed: run scripts/setup')

BACKEND = 'userspace'


def wg_show(ns, name):
    """`wg show <name> dump` in `ns`: wireguard-tools looks in /var/run/wireguard, so bind the namespace's own
    socket directory there, in a private mount namespace, as the module does for wireguard-go."""
    return sh('unshare', '--mount', '--propagation', 'private', 'sh', '-c',
              'mount --bind "$1" /var/run/wireguard && exec ip netns exec "$2" wg show "$3" dump',
              'sh', wgb.uapi_dir(ns), ns, name).stdout


def keypair():
    raw = wg.generate_private_key()
    return wg.b64(raw), wg.b64(wg.public_key(raw))


def secret_forms(b64key):
    """Every spelling of a key that must never be printed: base64 and hex."""
    raw = base64.b64decode(b64key)
    return [b64key, binascii.hexlify(raw).decode()]


class Node(object):
    def __init__(self, ns, wgname, underlay, tunnel):
        self.ns, self.wg, self.underlay, self.tunnel = ns, wgname, underlay, tunnel
        self.private, self.public = keypair()

    def apply(self, desired, **kw):
        return user_result(converge(desired, netns=self.ns, **kw), keep=('_state',))

    def dump(self):
        """`wg show <link> dump` parsed: the device line and {public key: peer fields}."""
        out = wg_show(self.ns, self.wg).splitlines()
        dev = out[0].split('\t')
        peers = {}
        for line in out[1:]:
            c = line.split('\t')
            peers[c[0]] = {'preshared_key': c[1], 'endpoint': c[2], 'allowed_ips': sorted(c[3].split(',')) if c[3] != '(none)' else [],
                           'latest_handshake': int(c[4]), 'rx': int(c[5]), 'tx': int(c[6]), 'keepalive': c[7]}
        return {'public_key': dev[1], 'listen_port': int(dev[2]), 'fwmark': dev[3], 'peers': peers}


@pytest.fixture
def pair():
    tag = uuid.uuid4().hex[:6]
    a = Node('nnwg-%s-a' % tag, 'wga%s' % tag, '192.0.2.1', '10.77.0.1')
    b = Node('nnwg-%s-b' % tag, 'wgb%s' % tag, '192.0.2.2', '10.77.0.2')
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
        remove_wireguard_nodes([(n.ns, n.wg) for n in (a, b)])


def tunnel(node, peer, port_self, port_peer, psk=None, extra_peers=(), **kw):
    p = {'public_key': peer.public, 'endpoint': '%s:%d' % (peer.underlay, port_peer), 'allowed_ips': [peer.tunnel + '/32']}
    if psk:
        p['preshared_key'] = psk
    entry = dict({'name': node.wg, 'backend': BACKEND, 'private_key': node.private, 'listen_port': port_self,
                  'up': True, 'peers': [p] + list(extra_peers)}, **kw)
    return {'wireguard': [entry], 'address': [{'address': node.tunnel + '/24', 'link': node.wg}]}


def tcp_exchange(server, client, port=7777):
    """A TCP connection from client to server's tunnel address; returns what came back."""
    srv = in_netns(server.ns, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((server.tunnel, port))
    srv.listen(1)
    srv.settimeout(20)

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
        cli = in_netns(client.ns, lambda: socket.create_connection((server.tunnel, port), timeout=20))
        with cli:
            cli.sendall(b'hello through wireguard')
            return cli.recv(1024)
    finally:
        t.join(25)
        srv.close()


def test_tunnel_tcp_then_peers_changed_and_removed(pair):
    a, b = pair
    psk = wg.b64(wg.generate_private_key())
    ra = a.apply(tunnel(a, b, 51820, 51821, psk=psk))
    rb = b.apply(tunnel(b, a, 51821, 51820, psk=psk))
    assert ra['operations'] == ['create wireguard %s' % a.wg, 'create address %s %s/24' % (a.wg, a.tunnel)]
    assert rb['changed']
    # what wireguard-tools sees
    da = a.dump()
    assert da['public_key'] == a.public and da['listen_port'] == 51820
    assert list(da['peers']) == [b.public]
    assert da['peers'][b.public]['endpoint'] == '192.0.2.2:51821'
    assert da['peers'][b.public]['allowed_ips'] == ['10.77.0.2/32']
    assert da['peers'][b.public]['preshared_key'] == psk
    assert json.loads(sh('ip', '-j', '-n', a.ns, 'link', 'show', a.wg).stdout)[0]['operstate'] in ('UNKNOWN', 'UP')
    # real packets through the tunnel
    assert tcp_exchange(b, a) == b'HELLO THROUGH WIREGUARD'
    assert tcp_exchange(a, b, port=7778) == b'HELLO THROUGH WIREGUARD'
    # idempotent
    r = a.apply(tunnel(a, b, 51820, 51821, psk=psk))
    assert r['changed'] is False and r['operations'] == []
    # network_info: handshake, counters, no secrets
    info = gather(a.ns, ['wireguard'])['wireguard']
    assert [w['name'] for w in info] == [a.wg]
    rec = info[0]
    assert rec['backend'] == 'userspace' and rec['public_key'] == a.public and rec['listen_port'] == 51820
    peer = rec['peers'][0]
    assert peer['public_key'] == b.public and peer['endpoint'] == '192.0.2.2:51821' and peer['allowed_ips'] == ['10.77.0.2/32']
    assert peer['latest_handshake'] and peer['rx_bytes'] > 0 and peer['tx_bytes'] > 0
    assert peer['preshared_key'].startswith('<redacted:')
    text = json.dumps(info)
    for s in secret_forms(a.private) + secret_forms(psk):
        assert s not in text
    handshake = a.dump()['peers'][b.public]['latest_handshake']

    # add a peer: the existing one is not touched (same handshake, counters keep growing)
    c_pub = keypair()[1]
    extra = {'public_key': c_pub, 'allowed_ips': ['10.77.0.3/32', 'fd77::3/128'], 'persistent_keepalive_interval': 25}
    r = a.apply(tunnel(a, b, 51820, 51821, psk=psk, extra_peers=[extra]), diff_mode=True)
    assert r['operations'] == ['modify wireguard %s' % a.wg]
    assert c_pub in r['diff'][0]['after'] and b.public not in r['diff'][0]['after']
    da = a.dump()
    assert sorted(da['peers']) == sorted([b.public, c_pub])
    assert da['peers'][c_pub]['allowed_ips'] == ['10.77.0.3/32', 'fd77::3/128'] and da['peers'][c_pub]['keepalive'] == '25'
    assert da['peers'][b.public]['latest_handshake'] == handshake
    assert tcp_exchange(b, a, port=7779) == b'HELLO THROUGH WIREGUARD'

    # change the existing peer: more allowed IPs, no preshared key any more (on both sides)
    changed = tunnel(a, b, 51820, 51821, extra_peers=[extra])
    changed['wireguard'][0]['peers'][0]['allowed_ips'].append('10.78.0.0/16')
    r = a.apply(changed, diff_mode=True)
    assert r['operations'] == ['modify wireguard %s' % a.wg]
    assert '<redacted:' in r['diff'][0]['before'] and c_pub not in r['diff'][0]['after']
    b.apply(tunnel(b, a, 51821, 51820))
    da = a.dump()
    assert da['peers'][b.public]['allowed_ips'] == ['10.77.0.2/32', '10.78.0.0/16']
    assert da['peers'][b.public]['preshared_key'] == '(none)'
    assert tcp_exchange(b, a, port=7780) == b'HELLO THROUGH WIREGUARD'

    # remove a peer by leaving it out, then every peer
    a.apply(tunnel(a, b, 51820, 51821))
    assert list(a.dump()['peers']) == [b.public]
    r = a.apply({'wireguard': [{'name': a.wg, 'peers': []}]})
    assert r['operations'] == ['modify wireguard %s' % a.wg] and a.dump()['peers'] == {}
    assert a.apply({'wireguard': [{'name': a.wg, 'peers': []}]})['changed'] is False

    # remove the link: wireguard-go stops and its socket goes away
    r = a.apply({'wireguard': [{'name': a.wg, 'state': 'absent'}]})
    assert r['operations'] == ['delete wireguard %s' % a.wg]
    assert a.wg not in sh('ip', '-n', a.ns, '-o', 'link').stdout
    assert not wgb.uapi_served(a.wg, a.ns) and not os.path.exists(wgb.uapi_path(a.wg, a.ns))
    assert a.apply({'wireguard': [{'name': a.wg, 'state': 'absent'}]})['changed'] is False


def test_check_mode_and_diff_show_no_secret(pair):
    a, b = pair
    psk = wg.b64(wg.generate_private_key())
    before = sh('ip', '-n', a.ns, '-o', 'link').stdout
    r = a.apply(tunnel(a, b, 51820, 51821, psk=psk, firewall_mark=42), check_mode=True, diff_mode=True)
    assert r['changed'] and r['operations'][0] == 'create wireguard %s' % a.wg
    assert sh('ip', '-n', a.ns, '-o', 'link').stdout == before and not os.path.exists(wgb.uapi_path(a.wg, a.ns))
    after = r['diff'][0]['after']
    assert a.public in after and 'firewall_mark: 42' in after and '<redacted:' in after
    text = json.dumps(r['diff']) + repr(r)
    for s in secret_forms(a.private) + secret_forms(psk):
        assert s not in text


def test_key_file_generated_on_the_node(pair, tmp_path):
    a, b = pair
    path = str(tmp_path / 'wg.key')
    desired = {'wireguard': [{'name': a.wg, 'backend': BACKEND, 'private_key_file': path, 'generate_key': True, 'listen_port': 51830}]}
    r = a.apply(desired, check_mode=True)
    assert r['changed'] and not os.path.exists(path)
    r = a.apply(desired)
    assert r['operations'] == ['create wireguard %s' % a.wg]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as fh:
        key = fh.read().strip()
    public = wg.b64(wg.public_key(base64.b64decode(key)))
    assert a.dump()['public_key'] == public == r['_state']['wireguard'][a.wg]['public_key']
    assert a.apply(desired)['changed'] is False
    # an existing file is used, never overwritten
    mtime = os.stat(path).st_mtime_ns
    assert a.apply(desired)['changed'] is False and os.stat(path).st_mtime_ns == mtime
    # without generate_key a missing file is an error naming the field
    with pytest.raises(ValidationError) as exc:
        a.apply({'wireguard': [{'name': a.wg, 'private_key_file': str(tmp_path / 'missing.key')}]})
    assert exc.value.field == 'private_key_file' and 'generate_key' in str(exc.value)


def test_bad_input_is_clear_never_echoes_keys_and_changes_nothing(pair):
    a, b = pair
    good = a.private
    bad_len = base64.b64encode(base64.b64decode(good)[:31]).decode()
    cases = [
        ({'private_key': bad_len}, 'private_key', '31 bytes', [bad_len]),
        ({'private_key': good[:-2] + '!!'}, 'private_key', 'base64', [good[:-2]]),
        ({'peers': [{'public_key': b.public, 'preshared_key': 'x' + good[1:-1]}]}, 'peers[0].preshared_key',
         'not a valid WireGuard preshared key', [good[1:-1]]),
        ({'peers': [{'public_key': b.public[:20]}]}, 'peers[0].public_key', 'base64', []),
        ({'peers': [{'public_key': b.public, 'endpoint': '192.0.2.2'}]}, 'peers[0].endpoint', 'host:port', []),
        ({'peers': [{'public_key': b.public, 'endpoint': '[2001:db8::1]:70000'}]}, 'peers[0].endpoint', '1-65535', []),
        ({'peers': [{'public_key': b.public, 'allowed_ips': ['10.0.0.1/8']}]}, 'peers[0].allowed_ips[0]', 'host bits', []),
        ({'peers': [{'public_key': b.public}, {'public_key': b.public}]}, 'peers[1].public_key', 'twice', []),
        ({'private_key': good, 'peers': [{'public_key': a.public}]}, 'peers[0].public_key', 'own public key', [good]),
        ({'listen_port': 0}, 'listen_port', 'omit', []),
        ({'generate_key': True}, 'generate_key', 'private_key_file', []),
    ]
    before = sh('ip', '-n', a.ns, '-o', 'link').stdout
    for extra, field, text, secrets in cases:
        entry = dict({'name': a.wg, 'backend': BACKEND}, **extra)
        with pytest.raises(ValidationError) as exc:
            a.apply({'wireguard': [entry]})
        assert exc.value.field == field, (extra, str(exc.value))
        assert text in str(exc.value)
        for s in secrets:
            assert s not in str(exc.value)
    assert sh('ip', '-n', a.ns, '-o', 'link').stdout == before
    # a link of another kind is never taken over
    with pytest.raises(ValidationError) as exc:
        a.apply({'wireguard': [{'name': 've0', 'private_key': good}]})
    assert 'not a WireGuard link' in str(exc.value) and good not in str(exc.value)


def test_the_same_name_in_two_namespaces_carries_traffic(pair):
    """wg0 in both namespaces (what a mesh of nodes looks like): each wireguard-go has its own socket, both are
    configured, and TCP crosses the tunnel with the counters rising on both sides."""
    a, b = pair
    a.wg = b.wg = 'wg0'
    try:
        a.apply(tunnel(a, b, 51820, 51821))
        b.apply(tunnel(b, a, 51821, 51820))
        assert wgb.uapi_path('wg0', a.ns) != wgb.uapi_path('wg0', b.ns)
        assert wgb.uapi_in_netns('wg0', a.ns) == 'here' and wgb.uapi_in_netns('wg0', b.ns) == 'here'
        assert not os.path.exists(wgb.uapi_path('wg0')), 'nothing in the machine-wide directory'
        assert a.dump()['public_key'] == a.public and b.dump()['public_key'] == b.public
        assert tcp_exchange(a, b) == b'HELLO THROUGH WIREGUARD'
        da, db = a.dump(), b.dump()
        assert da['peers'][b.public]['rx'] > 0 and db['peers'][a.public]['rx'] > 0
        assert da['peers'][b.public]['latest_handshake'] > 0
        # idempotent on both, and network_info reads each namespace's own link
        assert a.apply(tunnel(a, b, 51820, 51821))['changed'] is False
        assert b.apply(tunnel(b, a, 51821, 51820))['changed'] is False
        for n, other in ((a, b), (b, a)):
            recs = gather(n.ns, ['wireguard'])['wireguard']
            assert [r['public_key'] for r in recs] == [n.public]
            assert [p['public_key'] for p in recs[0]['peers']] == [other.public]
    finally:
        for n in (a, b):
            sh('ip', '-n', n.ns, 'link', 'del', 'wg0', check=False)
            for dummy in range(100):
                if not wgb.uapi_served('wg0', n.ns):
                    break
                time.sleep(0.05)


def test_rollback_of_create_and_of_changed_peers(pair, tmp_path):
    a, b = pair
    path = str(tmp_path / 'a.key')
    desired = tunnel(a, b, 51820, 51821)
    del desired['wireguard'][0]['private_key']
    desired['wireguard'][0].update(private_key_file=path, generate_key=True)
    # a failure after the link was created: link, wireguard-go and generated key file are gone
    with pytest.raises(ApplyError) as exc:
        a.apply(desired, fail_after=1)
    assert 'rolled back the 1 operation' in str(exc.value)
    assert a.wg not in sh('ip', '-n', a.ns, '-o', 'link').stdout
    assert not os.path.exists(path)
    for dummy in range(100):
        if not wgb.uapi_served(a.wg, a.ns):
            break
        time.sleep(0.05)
    assert not wgb.uapi_served(a.wg, a.ns)

    a.apply(tunnel(a, b, 51820, 51821))
    before = a.dump()
    c_pub = keypair()[1]
    psk = wg.b64(wg.generate_private_key())
    change = tunnel(a, b, 51820, 51821, extra_peers=[{'public_key': c_pub, 'preshared_key': psk, 'allowed_ips': ['10.77.0.3/32']}],
                    firewall_mark=7, mtu=1380)
    change['wireguard'][0]['peers'][0]['persistent_keepalive_interval'] = 15
    change['address'] = [{'address': '10.77.9.1/24', 'link': a.wg}]
    with pytest.raises(ApplyError) as exc:
        a.apply(change, fail_after=1)
    assert 'rolled back' in str(exc.value)
    for s in secret_forms(psk) + secret_forms(a.private):
        assert s not in str(exc.value)
    after = a.dump()
    for p in after['peers'].values():
        p.pop('latest_handshake'), p.pop('rx'), p.pop('tx')
    for p in before['peers'].values():
        p.pop('latest_handshake'), p.pop('rx'), p.pop('tx')
    assert after == before
    link = json.loads(sh('ip', '-j', '-n', a.ns, 'link', 'show', a.wg).stdout)[0]
    assert link['mtu'] == 1420
    # a real error part way: the listen port is taken; the firewall mark and peers set before it are undone
    busy = in_netns(a.ns, lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
    try:
        busy.bind(('::', 51999))
        with pytest.raises(ApplyError) as exc:
            a.apply({'wireguard': [{'name': a.wg, 'private_key': keypair()[0], 'firewall_mark': 9, 'peers': [],
                                    'listen_port': 51999}]})
        assert 'EADDRINUSE' in str(exc.value) or 'in use' in str(exc.value), str(exc.value)
    finally:
        busy.close()
    after = a.dump()
    assert after['fwmark'] == 'off' and list(after['peers']) == [b.public] and after['listen_port'] == 51820
    assert after['public_key'] == a.public


def test_rollback_of_a_removal_brings_the_link_back_as_it_was(pair):
    a, b = pair
    psk = wg.b64(wg.generate_private_key())
    a.apply(tunnel(a, b, 51820, 51821, psk=psk, firewall_mark=5, mtu=1400))
    b.apply(tunnel(b, a, 51821, 51820, psk=psk))
    assert tcp_exchange(b, a, port=7790) == b'HELLO THROUGH WIREGUARD'
    before = a.dump()
    # the removal comes first in the plan, the address after it fails (test hook): the link must come back
    with pytest.raises(ApplyError) as exc:
        a.apply({'wireguard': [{'name': a.wg, 'state': 'absent'}],
                 'address': [{'address': '192.0.2.11/24', 'link': 've0'}]}, fail_after=1)
    assert 'rolled back the 1 operation' in str(exc.value)
    for s in secret_forms(a.private) + secret_forms(psk):
        assert s not in str(exc.value)
    after = a.dump()
    for d in (before, after):
        for p in d['peers'].values():
            p.pop('latest_handshake'), p.pop('rx'), p.pop('tx')
    assert after == before       # same key, port, mark, peers (with the preshared key)
    link = json.loads(sh('ip', '-j', '-n', a.ns, 'link', 'show', a.wg).stdout)[0]
    assert link['mtu'] == 1400 and 'UP' in link['flags']
    # the tunnel works again once its address is back
    a.apply({'address': [{'address': a.tunnel + '/24', 'link': a.wg}]})
    assert tcp_exchange(b, a, port=7791) == b'HELLO THROUGH WIREGUARD'
