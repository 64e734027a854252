"""VM tier smoke tests: the VM kernel has what the tier needs, and a module works there.

Run with scripts/test-vm (skipped elsewhere, see conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]  # the collection root

# kind -> (setup commands run before, `ip link add` arguments after "name X")
KINDS = {
    "dummy": ([], ["type", "dummy"]),
    "bond": ([], ["type", "bond", "mode", "active-backup"]),
    "vlan": ([["link", "add", "p0", "type", "dummy"]], ["link", "p0", "type", "vlan", "id", "10"]),
    "wireguard": ([], ["type", "wireguard"]),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_kernel_has_link_kind(netns, ip, ip_json, kind):
    """dummy, bonding, 8021q and wireguard are available: create one, see it, delete it."""
    setup, add_args = KINDS[kind]
    for cmd in setup:
        ip(netns, *cmd)
    ip(netns, "link", "add", "name", "t0", *add_args)

    (link,) = ip_json(netns, "-d", "link", "show", "dev", "t0")
    assert link["ifname"] == "t0"
    assert link["linkinfo"]["info_kind"] == kind

    ip(netns, "link", "delete", "dev", "t0")
    assert "t0" not in {l["ifname"] for l in ip_json(netns, "link", "show")}


def _link(ip_json, netns, name):
    links = [l for l in ip_json(netns, "link", "show") if l["ifname"] == name]
    return links[0] if links else None


def test_link_module_creates_dummy(netns, run_module, ip_json):
    """seed.nodenet.link: create a dummy link, re-run with no change, then remove it."""
    assert (REPO / "plugins" / "modules" / "link.py").is_file(), \
        "plugins/modules/link.py does not exist (yet)"
    args = {"name": "dummy0", "kind": "dummy", "mtu": 1400, "up": True, "netns": netns}

    first = run_module("link", args)
    assert not first.get("failed"), first
    assert first["changed"] is True, first
    link = _link(ip_json, netns, "dummy0")
    assert link is not None, "dummy0 was not created"
    assert link["mtu"] == 1400
    assert "UP" in link["flags"]

    second = run_module("link", args)
    assert not second.get("failed"), second
    assert second["changed"] is False, second

    removed = run_module("link", {"name": "dummy0", "kind": "dummy", "state": "absent", "netns": netns})
    assert not removed.get("failed"), removed
    assert removed["changed"] is True, removed
    assert _link(ip_json, netns, "dummy0") is None, "dummy0 is still there after state=absent"
