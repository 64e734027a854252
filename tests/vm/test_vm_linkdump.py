"""The engine's link-dump decoder against pyroute2's on the kinds this machine's kernel lacks
(bond, VLAN 802.1Q/802.1ad, dummy, WireGuard, a VLAN-filtering bridge; tests/linkdump_check.py):
every LinkStatus record must come out the same. Runs in the VM (scripts/test-vm)."""
from __future__ import annotations

from linkdump_check import compare, make_links, sh


def test_decoder_records_equal_pyroute2_every_kind(netns, monkeypatch):
    made, other = make_links(netns)
    try:
        ours = compare(netns, made, monkeypatch)
    finally:
        sh('ip', 'netns', 'del', other, check=False)
    assert {'d0', 'vl0', 'vl1', 'bo0', 'wg0', 'vlan_filtering'} <= set(made), 'the VM kernel has these kinds'
    assert ours['bo0']['mode'] == 'active-backup' and ours['wg0']['kind'] == 'wireguard'
