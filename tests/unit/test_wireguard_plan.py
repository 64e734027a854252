"""WireGuard planning and validation as data: no kernel, no wireguard-go."""
import base64
import sys

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import wg
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.diff import plan_diff
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import wireguard as kind
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import StaticState
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import normalize, plan, summary

PRIV = base64.b64encode(bytes(range(1, 33))).decode()
PUB = wg.b64(wg.public_key(bytes(range(1, 33))))
P1 = base64.b64encode(b'\x11' * 32).decode()
P2 = base64.b64encode(b'\x22' * 32).decode()
PSK = base64.b64encode(b'\x33' * 32).decode()


def observed(peers=(), backend='userspace', **kw):
    rec = dict({'name': 'wg0', 'backend': backend, 'public_key': PUB, 'listen_port': 51820, 'firewall_mark': 0,
                'up': True, 'mtu': 1420, 'peers': list(peers)}, **kw)
    link = {'name': 'wg0', 'index': 5, 'kind': 'tun' if backend == 'userspace' else 'wireguard', 'up': True, 'mtu': 1420}
    return StaticState({'link': {'wg0': link, 'eth0': {'name': 'eth0', 'index': 2, 'kind': None}},
                        'wireguard': {'wg0': rec}})


def peer(pub, ips, endpoint=None, psk=None, keepalive=0):
    return {'public_key': pub, 'preshared_key': wg.fingerprint(base64.b64decode(psk)) if psk else None,
            'endpoint': endpoint, 'persistent_keepalive_interval': keepalive, 'allowed_ips': ips,
            'latest_handshake': 1700000000, 'rx_bytes': 10, 'tx_bytes': 20}


def run(entry, state):
    return plan(normalize({'wireguard': [entry]}), state)


def test_public_key_is_derived_and_matches_wg():
    # RFC 7748 section 6.1 test vector (Alice)
    alice = bytes.fromhex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')
    assert wg.public_key(alice).hex() == '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'


def test_a_missing_cryptography_is_named_when_a_key_is_derived(monkeypatch):
    """wg imports cryptography when a key is derived or generated (not at start-up); without it that fails
    naming the library."""
    for name in [m for m in list(sys.modules) if m == 'cryptography' or m.startswith('cryptography.')]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, 'cryptography', None)     # what `import cryptography` sees when it is missing
    with pytest.raises(NodenetError, match="library 'cryptography' is required"):
        wg.public_key(bytes(range(1, 33)))
    with pytest.raises(NodenetError, match="library 'cryptography' is required"):
        wg.generate_private_key()


def test_create_and_unchanged():
    entry = {'name': 'wg0', 'private_key': PRIV, 'listen_port': 51820, 'peers': [{'public_key': P1, 'allowed_ips': ['10.0.0.2/32']}]}
    ops = plan(normalize({'wireguard': [dict(entry)]}), StaticState({'link': {}, 'wireguard': {}}))
    assert [summary(o) for o in ops] == ['create wireguard wg0']
    assert ops[0]['after']['public_key'] == PUB
    state = observed([peer(P1, ['10.0.0.2/32'], endpoint='192.0.2.9:51820')])   # a roamed endpoint is kept
    assert run(dict(entry), state) == []


def test_peers_added_changed_removed_and_unchanged_left_alone():
    state = observed([peer(P1, ['10.0.0.2/32']), peer(P2, ['10.0.0.3/32'])])
    P3 = base64.b64encode(b'\x44' * 32).decode()
    ops = run({'name': 'wg0', 'peers': [{'public_key': P1, 'allowed_ips': ['10.0.0.2/32']},
                                        {'public_key': P3, 'allowed_ips': ['10.0.0.4/32'], 'preshared_key': PSK}]}, state)
    assert [summary(o) for o in ops] == ['modify wireguard wg0']
    spec = ops[0]['_spec']
    assert list(spec['set_peers']) == [base64.b64decode(P3)]          # P1 unchanged: not sent at all
    assert spec['remove_peers'] == [base64.b64decode(P2)]
    assert spec['set_peers'][base64.b64decode(P3)]['preshared_key'].raw == base64.b64decode(PSK)
    d = plan_diff(ops)[0]
    assert 'peer %s: null' % P3 in d['before'] and 'peer %s: null' % P2 in d['after'] and P1 not in d['after']
    assert PSK not in repr(ops[0]['before']) + repr(ops[0]['after']) + d['after'] and '<redacted:' in d['after']


def test_changed_psk_and_key_only_show_fingerprints():
    state = observed([peer(P1, ['10.0.0.2/32'], psk=PSK)])
    other = base64.b64encode(b'\x55' * 32).decode()
    ops = run({'name': 'wg0', 'private_key': other, 'peers': [{'public_key': P1, 'allowed_ips': ['10.0.0.2/32'], 'preshared_key': P2}]}, state)
    d = plan_diff(ops)[0]
    for secret in (other, P2, PSK):
        assert secret not in d['before'] + d['after'] + repr(ops)
    assert d['before'].count('<redacted:') == 1 and d['after'].count('<redacted:') == 1
    assert ops[0]['_spec']['device']['private_key'].raw == base64.b64decode(other)
    assert repr(ops[0]['_spec']['device']['private_key']) == '<redacted>'


def test_inverse_of_a_modify_restores_only_what_it_touched():
    state = observed([peer(P1, ['10.0.0.2/32']), peer(P2, ['10.0.0.3/32'])])
    op = run({'name': 'wg0', 'firewall_mark': 7, 'peers': [{'public_key': P1, 'allowed_ips': ['10.9.0.0/16']}]}, state)[0]
    saved_peers = dict((base64.b64decode(p), {'preshared_key': None, 'endpoint': None, 'persistent_keepalive_interval': 0,
                                              'allowed_ips': ips}) for p, ips in ((P1, ['10.0.0.2/32']), (P2, ['10.0.0.3/32'])))
    op['_saved'] = {'device': {'private_key': wg.Secret(b'\x01' * 32), 'listen_port': 51820, 'fwmark': 0, 'peers': saved_peers},
                    'link': {'up': True, 'mtu': 1420}}
    inv = kind.inverse(op)['_spec']
    assert inv['device'] == {'fwmark': 0}
    assert set(inv['set_peers']) == set(saved_peers) and inv['remove_peers'] == []
    assert inv['link'] == {}


@pytest.mark.parametrize('entry, field, text', [
    ({'private_key': 'abc'}, 'private_key', 'not a valid WireGuard private key'),
    ({'private_key': PRIV, 'private_key_file': '/x'}, 'private_key_file', 'not both'),
    ({'private_key_file': 'rel/key'}, 'private_key_file', 'absolute path'),
    ({'backend': 'vpp'}, 'backend', 'auto, kernel, userspace'),
    ({'firewall_mark': -1}, 'firewall_mark', '0-4294967295'),
    ({'mtu': 60}, 'mtu', '68-65535'),
    ({'peers': [{'public_key': P1, 'bogus': 1}]}, 'peers[0].bogus', 'unknown option'),
    ({'peers': [{'allowed_ips': []}]}, 'peers[0].public_key', 'needs its public key'),
    ({'peers': [{'public_key': P1, 'persistent_keepalive_interval': 70000}]}, 'peers[0].persistent_keepalive_interval', '0-65535'),
    ({'peers': [{'public_key': P1, 'allowed_ips': ['10.0.0.0/24']}, {'public_key': P2, 'allowed_ips': ['10.0.0.0/24']}]},
     'peers[1].allowed_ips[0]', 'one peer only'),
    ({'peers': [{'public_key': P1, 'endpoint': 'no-such-host.invalid:51820'}]}, 'peers[0].endpoint', 'does not resolve'),
    ({'state': 'absent', 'listen_port': 1}, 'state', 'do not also set listen_port'),
])
def test_validation_names_the_field(entry, field, text):
    with pytest.raises(ValidationError) as exc:
        normalize({'wireguard': [dict({'name': 'wg0'}, **entry)]})
    assert exc.value.field == field and text in str(exc.value)


def test_endpoints_normalised():
    assert wg.parse_endpoint('[2001:DB8::1]:51820', 'e') == '[2001:db8::1]:51820'
    assert wg.parse_endpoint(' 192.0.2.1:1 ', 'e') == '192.0.2.1:1'
    assert wg.parse_endpoint('localhost:51820', 'e') in ('127.0.0.1:51820', '[::1]:51820')


def test_plan_errors():
    with pytest.raises(ValidationError) as exc:
        run({'name': 'eth0', 'private_key': PRIV}, observed())
    assert 'not a WireGuard link' in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        run({'name': 'wg0', 'backend': 'kernel'}, observed())
    assert exc.value.field == 'backend' and 'remove it first' in str(exc.value)
    assert [summary(o) for o in run({'name': 'wg0', 'state': 'absent'}, observed())] == ['delete wireguard wg0']
    assert run({'name': 'wgX', 'state': 'absent'}, observed()) == []
