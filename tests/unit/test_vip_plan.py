"""The vip kind without a kernel: planning against observed records, the announcement packets' bytes, and
reading keepalived's virtual_ipaddress blocks for network_info."""
import socket
import struct

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import vip
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import StaticState
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import normalize, plan, summary

LINKS = {'eth0': {'name': 'eth0', 'index': 2, 'up': True}}


def state(vips=(), addresses=()):
    recs = dict((vip.key(r), r) for r in vips)
    addrs = dict(('%s %s' % (a['link'], a['address']), a) for a in addresses)
    return StaticState({'link': LINKS, 'vip': recs, 'address': addrs})


def ops(desired, st):
    return [summary(o) for o in plan(normalize({'vip': desired}), st)]


def test_plan_create_noop_prefix_change_and_delete():
    held = {'address': '192.0.2.100/32', 'link': 'eth0', 'family': 'inet4'}
    assert ops([{'address': '192.0.2.100', 'link': 'eth0'}], state()) == ['create vip eth0 192.0.2.100']
    assert ops([{'address': '192.0.2.100/32', 'link': 'eth0'}], state([held])) == []
    assert ops([{'address': '192.0.2.100/24', 'link': 'eth0'}], state([held])) == ['modify vip eth0 192.0.2.100']
    assert ops([{'address': '192.0.2.100', 'link': 'eth0', 'state': 'absent'}], state([held])) == ['delete vip eth0 192.0.2.100']
    assert ops([{'address': '192.0.2.101', 'link': 'eth0', 'state': 'absent'}], state([held])) == []


def test_plan_refuses_the_nodes_own_address_and_a_vip_on_another_link():
    own = {'address': '192.0.2.10/24', 'link': 'eth0', 'family': 'inet4'}
    with pytest.raises(ValidationError) as e:
        ops([{'address': '192.0.2.10', 'link': 'eth0'}], state(addresses=[own]))
    assert 'ordinary address' in str(e.value) and e.value.field == 'address'
    other = dict(LINKS, eth1={'name': 'eth1', 'index': 3, 'up': True})
    st = StaticState({'link': other, 'address': {}, 'vip': {'eth1 192.0.2.100': {'address': '192.0.2.100/32', 'link': 'eth1'}}})
    with pytest.raises(ValidationError) as e:
        plan(normalize({'vip': [{'address': '192.0.2.100', 'link': 'eth0'}]}), st)
    assert "held on link 'eth1'" in str(e.value) and e.value.field == 'link'


@pytest.mark.parametrize('entry,field', [
    ({'address': '224.0.0.18'}, 'address'), ({'address': '::'}, 'address'), ({'address': 'vip'}, 'address'),
    ({'address': '192.0.2.0/24'}, 'address'), ({'announce_count': -1}, 'announce_count'),
    ({'announce_interval': 11}, 'announce_interval'), ({'link': 'a' * 16}, 'link'), ({'state': 'up'}, 'state'),
    ({'colour': 'red'}, 'colour'),
])
def test_bad_input_names_the_field(entry, field):
    e = dict({'address': '192.0.2.100', 'link': 'eth0'}, **entry)
    with pytest.raises(ValidationError) as exc:
        normalize({'vip': [e]})
    assert exc.value.field == field


def test_announcement_packets():
    hw = bytes.fromhex('020000aabbcc')
    frame = vip.garp_frame(hw, '192.0.2.100')
    assert len(frame) == 60 and frame[:6] == b'\xff' * 6 and frame[6:12] == hw and frame[12:14] == b'\x08\x06'
    htype, ptype, hlen, plen, oper, sha, spa, tha, tpa = struct.unpack('!HHBBH6s4s6s4s', frame[14:42])
    assert (htype, ptype, hlen, plen, oper) == (1, 0x0800, 6, 4, 1)
    assert sha == hw and spa == tpa == socket.inet_aton('192.0.2.100') and tha == b'\x00' * 6
    na = vip.na_message(hw, '2001:db8::100')
    typ, code, dummy, flags, target = struct.unpack('!BBHI16s', na[:24])
    assert (typ, code, flags) == (136, 0, 0x20000000) and target == socket.inet_pton(socket.AF_INET6, '2001:db8::100')
    assert na[24:] == b'\x02\x01' + hw


def test_keepalived_vips_from_a_configuration():
    text = '''
! Configuration
global_defs { router_id cp1 }
vrrp_instance v4 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.100/32 dev eth1   # comment
        192.0.2.101
    }
    track_script { chk }
}
vrrp_instance v6 {
    interface bond0
    virtual_ipaddress { 2001:db8::100/128 }
    virtual_ipaddress_excluded {
        2001:db8::101
    }
}
'''
    assert vip.keepalived_vips(text) == [
        ('192.0.2.100/32', 'eth1'), ('192.0.2.101', 'eth0'), ('2001:db8::100/128', 'bond0'), ('2001:db8::101', 'bond0')]
