"""Bad input is rejected with the field named and what is allowed."""
import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import normalize

BAD = [
    ({'link': [{'name': 'a', 'kind': 'dummy', 'mtu': 70000}]}, 'mtu', '68-65535'),
    ({'link': [{'name': 'a', 'kind': 'dummy', 'mtu': 10}]}, 'mtu', 'out of range'),
    ({'link': [{'name': 'averyveryverylongname', 'kind': 'dummy'}]}, 'name', '15 bytes'),
    ({'link': [{'name': 'a b', 'kind': 'dummy'}]}, 'name', 'whitespace'),
    ({'link': [{'name': 'a', 'kind': 'bogus'}]}, 'kind', 'veth'),
    ({'link': [{'name': 'a', 'kind': 'dummy', 'hardware_addr': 'zz:00:00:00:00:00'}]}, 'hardware_addr', 'MAC'),
    ({'link': [{'name': 'a', 'kind': 'dummy', 'hardware_addr': '01:00:00:00:00:01'}]}, 'hardware_addr', 'multicast'),
    ({'link': [{'name': 'a', 'kind': 'veth'}]}, 'peer', 'other end'),
    ({'link': [{'name': 'a', 'kind': 'dummy', 'peer': 'b'}]}, 'peer', 'veth'),
    ({'link': [{'name': 'a', 'kind': 'vxlan'}]}, 'vni', '16777215'),
    ({'link': [{'name': 'a', 'kind': 'vxlan', 'vni': 1, 'remote': '10.0.0.1', 'group': '239.1.1.1'}]}, 'group', 'not both'),
    ({'link': [{'name': 'a', 'kind': 'vxlan', 'vni': 1, 'group': '10.0.0.1', 'parent': 'x'}]}, 'group', 'multicast'),
    ({'link': [{'name': 'a', 'kind': 'macvlan'}]}, 'parent', 'macvlan'),
    ({'link': [{'name': 'a', 'kind': 'dummy', 'colour': 'red'}]}, 'colour', 'unknown option'),
    ({'address': [{'address': '10.0.0.1', 'link': 'a'}]}, 'address', 'prefix length'),
    ({'address': [{'address': '10.0.0.300/24', 'link': 'a'}]}, 'address', 'CIDR'),
    ({'address': [{'address': '2001:db8::1/64', 'link': 'a', 'label': 'a:1'}]}, 'label', 'IPv4'),
    ({'address': [{'address': '10.0.0.1/24', 'link': 'a', 'label': 'b:1'}]}, 'label', "start with 'a:'"),
    ({'route': [{'destination': '10.0.0.1/24', 'gateway': '10.1.1.1'}]}, 'destination', 'host bits'),
    ({'route': [{'destination': '10.0.0.0/24', 'gateway': '2001:db8::1'}]}, 'destination', 'IPv4'),
    ({'route': [{'destination': '10.0.0.0/24'}]}, 'gateway', 'gateway, a link'),
    ({'route': [{'destination': '10.0.0.0/24', 'type': 'blackhole', 'gateway': '10.1.1.1'}]}, 'gateway', 'blackhole'),
    ({'route': [{'destination': '10.0.0.0/24', 'link': 'a', 'table': 'nope'}]}, 'table', 'main'),
    ({'route': [{'destination': '10.0.0.0/24', 'link': 'a', 'metric': -1}]}, 'metric', 'out of range'),
    ({'rule': [{'src': '10.0.0.0/8'}]}, 'table', 'table'),
    ({'rule': [{'src': '10.0.0.0/8', 'dst': '2001:db8::/32', 'table': 5}]}, 'dst', 'IPv6'),
    ({'rule': [{'fw_mask': 255, 'table': 5}]}, 'fw_mask', 'fw_mark'),
    ({'rule': [{'action': 'blackhole', 'table': 5}]}, 'table', 'no table'),
]


@pytest.mark.parametrize('desired,field,text', BAD, ids=['%s-%s' % (i, b[1]) for i, b in enumerate(BAD)])
def test_bad_input_names_field(desired, field, text):
    with pytest.raises(ValidationError) as exc:
        normalize(desired)
    assert exc.value.field.split('.')[-1] == field
    assert text in str(exc.value)


def test_normalises_addresses_and_macs():
    recs = normalize({'address': [{'address': '2001:0DB8:0::1/64', 'link': 'a'}],
                      'link': [{'name': 'a', 'kind': 'dummy', 'hardware_addr': '02-00-00-AA-BB-CC'}]})
    assert recs['address'][0]['address'] == '2001:db8::1/64'
    assert recs['link'][0]['hardware_addr'] == '02:00:00:aa:bb:cc'
