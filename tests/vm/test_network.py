"""VM tier for seed.nodenet.network, in-process (an Ansible run costs ~30 s under emulation):
a node built from dummy links (which this host's kernel lacks) in one plan, idempotent, purge,
and a kernel refusal part way rolled back; the bond/VLAN/bridge worked example in one task."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".build" / "collections"))

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError  # noqa: E402
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather  # noqa: E402
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.network import converge  # noqa: E402
from conftest import quiet_ipv6  # noqa: E402

NODE = {
    "links": [{"name": "uplink0", "kind": "dummy", "mtu": 9000, "up": True},
              {"name": "svc0", "kind": "dummy", "up": True},
              {"name": "mv0", "kind": "macvlan", "parent": "uplink0", "mtu": 1500, "up": True}],
    "addresses": ([{"address": "192.0.2.10/24", "link": "uplink0"}, {"address": "2001:db8::10/64", "link": "uplink0"},
                   {"address": "198.51.100.1/32", "link": "svc0"}]
                  + [{"address": "10.0.%d.1/24" % i, "link": "mv0"} for i in range(10)]),
    "routes": ([{"destination": "default", "gateway": "192.0.2.1"}]
               + [{"destination": "172.16.%d.0/24" % i, "gateway": "10.0.%d.254" % i} for i in range(10)]),
}


def _copy(spec):
    import json
    return json.loads(json.dumps(spec))


def _addrs(ip_json, netns):
    return sorted((l["ifname"], "%s/%d" % (a["local"], a["prefixlen"])) for l in ip_json(netns, "addr", "show")
                  for a in l.get("addr_info", []) if a.get("scope") == "global")


def test_whole_node_of_dummy_links_in_one_plan(netns, ip, ip_json):
    quiet_ipv6(netns)
    r = converge(_copy(NODE), netns=netns)
    assert r["changed"] and r["operations"][0] == "create link uplink0"
    links = {l["ifname"]: l for l in ip_json(netns, "-d", "link", "show")}
    assert links["uplink0"]["linkinfo"]["info_kind"] == "dummy" and links["uplink0"]["mtu"] == 9000
    assert links["mv0"]["link"] == "uplink0"
    assert ("svc0", "198.51.100.1/32") in _addrs(ip_json, netns) and len(_addrs(ip_json, netns)) == 13
    assert len([x for x in ip_json(netns, "route", "show") if x.get("gateway")]) == 11
    assert converge(_copy(NODE), netns=netns)["changed"] is False
    # something else added an address; purge removes it
    ip(netns, "addr", "add", "192.0.2.99/24", "dev", "uplink0")
    r = converge(_copy(NODE), netns=netns, purge=["addresses"])
    assert r["operations"] == ["delete address uplink0 192.0.2.99/24 (purge)"]
    # a kernel refusal part way leaves everything as it was: a gateway on the subnet of an address whose
    # link is down passes validation (which does not follow link state) and the kernel refuses it
    # (ENETUNREACH), after the new link and its address were made (as refused_route() in the kernel tier)
    before = gather(netns, ["links", "addresses", "routes"])
    bad = _copy(NODE)
    bad["links"].append({"name": "dn0", "kind": "veth", "peer": "dn1"})
    bad["addresses"].append({"address": "10.98.0.1/24", "link": "dn0"})
    bad["routes"].append({"destination": "10.99.0.0/16", "gateway": "10.98.0.254"})
    with pytest.raises(ApplyError) as exc:
        converge(bad, netns=netns)
    assert exc.value.rolled_back
    after = gather(netns, ["links", "addresses", "routes"])
    assert after == before


# ------------------------------------------------------------- the bond/VLAN/bridge worked example
def _worked(mtu200=9000):
    return {
        "links": [{"name": "eth1", "up": True}, {"name": "eth2", "up": True}],
        "bonds": [{"name": "bond0", "links": ["eth1", "eth2"], "mode": "802.3ad", "miimon": 100, "lacp_rate": "fast",
                   "xmit_hash_policy": "layer3+4", "mtu": 9000, "up": True}],
        "vlans": [{"name": "bond0.100", "parent": "bond0", "vlan_id": 100, "mtu": 9000, "up": True},
                  {"name": "bond0.200", "parent": "bond0", "vlan_id": 200, "mtu": mtu200, "up": True}],
        "bridges": [{"name": "br100", "links": ["bond0.100"], "stp": {"enabled": False}, "up": True}],
        "addresses": [{"address": "192.0.2.10/24", "link": "br100"}, {"address": "198.51.100.10/24", "link": "bond0.200"}],
        "routes": [{"destination": "default", "gateway": "192.0.2.1"},
                   {"destination": "10.50.0.0/16", "gateway": "198.51.100.1", "table": 200}],
        "rules": [{"priority": 1000, "src": "198.51.100.0/24", "table": 200}],
    }


def _nics(ip, netns):
    for n in ("eth1", "eth2"):
        ip(netns, "link", "add", n, "type", "dummy")


def test_worked_example_in_one_network_task_then_idempotent(netns, ip, ip_json, run_module):
    _nics(ip, netns)
    first = run_module("network", dict(_worked(), netns=netns))
    assert not first.get("failed") and first["changed"], first
    ops = first["operations"]
    assert ops.index("create bond bond0") < ops.index("create vlan bond0.100") < ops.index("create bridge br100")
    assert ops.index("create bridge br100") < ops.index("create address br100 192.0.2.10/24")
    links = {l["ifname"]: l for l in ip_json(netns, "-d", "link", "show")}
    assert links["bond0"]["linkinfo"]["info_data"]["mode"] == "802.3ad" and links["bond0"]["mtu"] == 9000
    assert links["eth1"]["master"] == "bond0" and links["eth2"]["master"] == "bond0"
    assert links["bond0.100"]["master"] == "br100" and links["bond0.200"]["linkinfo"]["info_data"]["id"] == 200
    assert ("br100", "192.0.2.10/24") in _addrs(ip_json, netns)
    assert [r for r in ip_json(netns, "route", "show", "table", "200") if r["dst"] == "10.50.0.0/16"]
    second = run_module("network", dict(_worked(), netns=netns))
    assert not second.get("failed") and second["changed"] is False, second


def test_worked_example_cross_checks_and_rollback(netns, ip):
    quiet_ipv6(netns)
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
    _nics(ip, netns)
    before = gather(netns, ["links", "addresses", "routes", "rules"])
    with pytest.raises(ValidationError) as exc:
        converge(_worked(mtu200=9100), netns=netns)
    assert exc.value.field == "vlans[1].mtu"
    bad = _worked()
    bad["links"][0]["mtu"] = 1500
    with pytest.raises(ValidationError) as exc:
        converge(bad, netns=netns)
    assert exc.value.field == "links[0].mtu" and "bond" in str(exc.value)
    bad = _worked()   # a kernel refusal after the bond, VLANs and bridge were made: a gateway behind a down link
    bad["links"].append({"name": "dn0", "kind": "veth", "peer": "dn1"})
    bad["addresses"].append({"address": "10.98.0.1/24", "link": "dn0"})
    bad["routes"].append({"destination": "10.99.0.0/16", "gateway": "10.98.0.254"})
    with pytest.raises(ApplyError) as exc:
        converge(bad, netns=netns)
    assert exc.value.rolled_back
    assert gather(netns, ["links", "addresses", "routes", "rules"]) == before
