"""The engine's own link-dump decoder against pyroute2's generic one, on real links of every kind
this kernel can make (veth, bridge, macvlan, vxlan, ipip ...; bond, VLAN, dummy and WireGuard in
the VM tier, tests/vm/test_vm_linkdump.py): every LinkStatus record must come out the same."""
import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import linkdump
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import link_index, open_netlink
from linkdump_check import compare, make_links, sh


@pytest.fixture
def made(netns):
    made, other = make_links(netns)
    try:
        yield made
    finally:
        sh('ip', 'netns', 'del', other, check=False)


def test_decoder_records_equal_pyroute2(netns, made, monkeypatch):
    ours = compare(netns, made, monkeypatch)
    assert {'p0', 'br0', 'mv0', 'vxl0'} <= set(ours), 'this kernel has veth, bridge, macvlan and vxlan'


def test_one_link_and_lookup(netns, made):
    nl = open_netlink(netns)
    try:
        idx = link_index(nl, 'mv0')
        m = linkdump.one(nl, idx)
        assert m['index'] == idx and m.get('ifname') == 'mv0'
        assert m.get('linkinfo').get('data').get('macvlan_mode') == 'private'
        br = linkdump.one(nl, link_index(nl, 'br0'))          # bridge data: pyroute2's decoder, same call
        assert br.get('linkinfo').get('data').get_attr('IFLA_BR_STP_STATE') == 1
        with pytest.raises(Exception) as e:
            link_index(nl, 'nosuch0')
        assert "'nosuch0'" in str(e.value)
        with pytest.raises(OSError):
            linkdump.one(nl, 999999)
    finally:
        nl.close()
