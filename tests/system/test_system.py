"""The system tier: a Debian 12 node with systemd as PID 1, driven over SSH like a real one.

Three boots of one disk, each shared by several checks (see conftest.py for the VM):
  boot 1  fresh image: prerequisites role (air-gapped: wheels from the controller), hostname
          and resolver through systemd, confirm-or-revert through systemd-run, persist: true
  boot 2  the persisted network and firewall are back before
          network-online.target; persist again changes nothing; persist: false
  boot 3  nothing re-applied: the network is left alone
"""

from __future__ import annotations

import json
import time

from conftest import changed_tasks, poll, result_of, say

# The node's declared network on the two test NICs (eth0 is the controller's SSH path).
NETWORK = {
    "links": [{"name": "eth1", "mtu": 1400, "up": True}, {"name": "eth2", "up": True}],
    "vlans": [{"name": "eth2.100", "parent": "eth2", "vlan_id": 100, "up": True}],
    "addresses": [{"address": "192.0.2.10/24", "link": "eth1"}, {"address": "2001:db8:1::10/64", "link": "eth1"},
                  {"address": "198.51.100.10/24", "link": "eth2.100"}],
    "routes": [{"destination": "203.0.113.0/24", "gateway": "192.0.2.1"},
               {"destination": "default", "gateway": "198.51.100.1", "table": 100}],
    "rules": [{"priority": 1000, "src": "198.51.100.0/24", "table": 100}],
    "hosts": {"entries": [{"ip": "192.0.2.10", "aliases": ["node1.example.test", "node1"]}]},
}
# The firewall part: a rule that drops TCP 9999 from outside the test network (default accept, so the
# controller's SSH path is never in question); persisted with the rest and applied by the boot unit.
FIREWALL = {"default_action": "accept", "rules": [
    {"name": "system-tier", "port_selector": {"protocol": "tcp", "ports": [9999]}, "ingress": [{"subnet": "192.0.2.0/24"}]}]}
STATE = {}   # what a later boot compares with
VENV_PYTHON = "/opt/seed-nodenet/venv/bin/python"   # the role's default prereqs_venv


def table100(node):
    """Gateways in routing table 100; ip fails ("FIB table does not exist", partial JSON) when it is empty."""
    p = node.ssh("ip -j route show table 100", check=False)
    return [r.get("gateway") for r in json.loads(p.stdout)] if p.returncode == 0 else []


def network_view(node):
    """What the declared objects look like in the kernel: links, addresses, routes, rules, hosts."""
    links = {l["ifname"]: l for l in node.json("ip -j -d link show")}
    addrs = {l["ifname"]: sorted("%s/%s" % (a["local"], a["prefixlen"]) for a in l.get("addr_info", [])
                                 if a.get("scope") == "global")
             for l in node.json("ip -j address show")}
    return {
        "eth1": {"mtu": links["eth1"]["mtu"], "up": "UP" in links["eth1"]["flags"], "addrs": addrs["eth1"]},
        "eth2.100": ({"vlan_id": links["eth2.100"]["linkinfo"]["info_data"]["id"], "up": "UP" in links["eth2.100"]["flags"],
                      "addrs": addrs["eth2.100"]} if "eth2.100" in links else None),
        "routes": sorted("%s via %s" % (r["dst"], r.get("gateway")) for r in node.json("ip -j route show")
                         if r["dst"] == "203.0.113.0/24"),
        # ip fails with "FIB table does not exist" when nothing is in table 100 (boot 3)
        "table100": table100(node),
        "rules": ["%s/%s" % (r.get("src"), r.get("srclen")) for r in node.json("ip -j rule show") if r.get("priority") == 1000],
        "hosts": "192.0.2.10 node1.example.test node1" in " ".join(node.ssh("cat /etc/hosts").stdout.split()),
    }


def unit_times(node, *units):
    """systemd's own monotonic timestamps (µs) for units."""
    out = {}
    for u in units:
        props = dict(line.split("=", 1) for line in node.ssh(
            "systemctl show -p ActiveState -p Result -p LoadState -p ActiveEnterTimestampMonotonic "
            "-p InactiveExitTimestampMonotonic %s" % u).stdout.splitlines() if "=" in line)
        out[u] = props
    return out


def boot_report(node, n):
    """systemd's own account of boot n (kernel + userspace time, the slowest units) as a progress line."""
    p = node.ssh("systemd-analyze time --no-pager | head -1; systemd-analyze blame --no-pager | head -3",
                 check=False, timeout=300)
    say("boot %d: %s" % (n, "; ".join(" ".join(line.split()) for line in p.stdout.splitlines()) or p.stderr.strip()))


# ------------------------------------------------------------------------- boot 1
def test_fresh_node_boots_systemd(node):
    assert node.ssh("cat /proc/1/comm").stdout.strip() == "systemd"
    state = node.ssh("systemctl is-system-running --wait", check=False, timeout=900).stdout.strip()
    failed = node.ssh("systemctl --failed --plain --no-legend", check=False).stdout.strip()
    assert state == "running", "system state %s; failed units: %s" % (state, failed)
    # a fresh Debian 12: its own pyroute2 is the packaged 0.7.2, too old for the modules
    old = node.ssh("python3 -c 'from importlib import metadata; print(metadata.version(\"pyroute2\"))'").stdout.strip()
    assert old == "0.7.2", old
    links = [l["ifname"] for l in node.json("ip -j link show")]
    assert {"eth0", "eth1", "eth2"} <= set(links), links
    say("boot 1: systemd is PID 1, system running, python3-pyroute2 %s, NICs %s" % (old, links))
    boot_report(node, 1)


def test_prereqs_role_makes_the_node_ready(node, wheels):
    role = [{"ansible.builtin.include_role": {"name": "seed.nodenet.prereqs"},
             "vars": {"prereqs_pip_wheel_dir": str(wheels)}},
            {"name": "modules run", "seed.nodenet.network_info": {"gather": ["links"]}},
            {"name": "interpreter", "ansible.builtin.command": "{{ ansible_python_interpreter }} -c "
             "'from importlib import metadata; print(metadata.version(\"pyroute2\"))'", "changed_when": False}]
    t0 = time.monotonic()
    first = node.play(role, name="prereqs")
    # the callback names a role's tasks "<role> : <task>"
    assert any(t.endswith(": Install pyroute2 with pip") for t in changed_tasks(first)), changed_tasks(first)
    version = result_of(first, "interpreter")["result"]["stdout"].strip()
    assert tuple(int(x) for x in version.split(".")[:3]) >= (0, 7, 3), version
    assert result_of(first, "interpreter")["result"]["cmd"][0] == VENV_PYTHON
    info = result_of(first, "modules run")["result"]["ansible_facts"]["nodenet"]
    assert {"eth0", "eth1", "eth2"} <= {l["name"] for l in info["links"]}
    say("prereqs: venv with pyroute2 %s from the controller's wheel directory, network_info ran (%.0fs)"
        % (version, time.monotonic() - t0))
    again = node.play(role, name="prereqs-again")
    assert changed_tasks(again) == [], changed_tasks(again)
    say("prereqs: second run changed nothing")


def _with_prereqs(tasks):
    """Plays after the role use the Python it chose, as an inventory would (no need to run it again)."""
    return [{"ansible.builtin.set_fact": {"ansible_python_interpreter": VENV_PYTHON}}] + tasks


def test_hostname_and_resolver_through_systemd(node):
    tasks = _with_prereqs([
        {"name": "hostname", "seed.nodenet.hostname": {"hostname": "node1.example.test"}},
        {"name": "resolver", "seed.nodenet.resolver": {
            "nameservers": ["192.0.2.53", "2001:db8::53"], "search_domains": ["example.test"]}},
    ])
    res = node.play(tasks, name="etc")
    h, r = result_of(res, "hostname")["result"], result_of(res, "resolver")["result"]
    assert h["changed"] and h["method"] == "hostnamectl", h
    assert r["changed"] and r["manager"] == "systemd-resolved", r
    static = node.ssh("hostnamectl hostname --static 2>/dev/null || hostnamectl --static").stdout.strip()
    assert static == "node1.example.test", static
    assert node.ssh("hostname").stdout.strip() == "node1"
    dns = node.ssh("resolvectl dns").stdout
    domains = node.ssh("resolvectl domain").stdout
    glob = [l for l in dns.splitlines() if l.startswith("Global")]
    assert glob and "192.0.2.53" in glob[0] and "2001:db8::53" in glob[0], dns
    assert any(l.startswith("Global") and "example.test" in l for l in domains.splitlines()), domains
    assert "nameserver 127.0.0.53" in node.ssh("cat /etc/resolv.conf").stdout
    again = node.play(tasks, name="etc-again")
    assert changed_tasks(again) == [], changed_tasks(again)
    say("hostname via hostnamectl (%s), resolver via resolved's drop-in (resolvectl: %s); again: no change"
        % (static, glob[0].split(":", 1)[1].strip()))


def _rollback_unit_log(node):
    return node.ssh("journalctl -b --no-pager -o cat -u 'nodenet-rollback-*'", check=False).stdout


def test_confirmed_change_stays(node):
    tasks = _with_prereqs([
        {"name": "change", "seed.nodenet.network": {
            # the confirm task's own start (a Python module on the emulated node) took 70 s at load 6: with 30 s
            # the watchdog reverted first; a confirmed change does not wait for the deadline, so it costs nothing
            "links": [{"name": "eth1", "up": True}], "addresses": [{"address": "192.0.2.77/24", "link": "eth1"}],
            "rollback_timeout": 600}},
        {"name": "confirm", "seed.nodenet.confirm": {}},
    ])
    res = node.play(tasks, name="confirmed")
    change = result_of(res, "change")["result"]
    assert "systemd unit" in json.dumps(change), change
    assert result_of(res, "confirm")["result"].get("confirmed") is True, res
    # the transient unit sees the confirmation and ends without reverting
    poll("the watchdog unit to exit", lambda: "confirmed" in _rollback_unit_log(node), 60)
    poll("the watchdog unit to be gone", lambda: node.ssh(
        "systemctl list-units --all --plain --no-legend 'nodenet-rollback-*'").stdout.strip() == "", 60)
    addrs = node.ssh("ip -br address show eth1").stdout
    assert "192.0.2.77/24" in addrs, addrs
    # leave eth1 as it was for the persistence checks
    node.play(_with_prereqs([{"seed.nodenet.address": {"address": "192.0.2.77/24", "link": "eth1", "state": "absent"}}]),
              name="confirmed-cleanup")
    say("confirm-or-revert: confirmed change kept; the systemd-run watchdog exited: %s"
        % _rollback_unit_log(node).strip().splitlines()[-1])


def test_unconfirmed_change_that_cuts_ssh_is_reverted(node):
    cut = _with_prereqs([
        {"name": "move the management address", "seed.nodenet.network": {
            "links": [{"name": "eth0", "up": True}],
            "addresses": [{"address": "10.0.2.99/24", "link": "eth0"}],
            "purge": ["addresses"], "rollback_timeout": 25},
         "async": 900, "poll": 0},
    ])
    node.play(cut, name="cut")
    t_cut = time.monotonic()
    # the controller loses the node: SSH to 10.0.2.15 has nowhere to go
    # an emulated node may cut and revert between two probes: the watchdog's journal shows the cut was real
    poll("the SSH path to be cut (or already reverted)",
         lambda: not node.reachable() or "reverted" in _rollback_unit_log(node), 600, interval=1)
    node.close_masters()
    say("confirm-or-revert: SSH cut (or cut and reverted) after %.0fs; waiting for the watchdog's revert"
        % (time.monotonic() - t_cut))
    poll("SSH to come back after the revert", node.reachable, 600, interval=2)
    say("confirm-or-revert: SSH back %.0fs after the cut" % (time.monotonic() - t_cut))
    log = _rollback_unit_log(node)
    assert "not confirmed within 25 s" in log and "reverted" in log, log
    addrs = node.ssh("ip -br address show eth0").stdout
    assert "10.0.2.15/24" in addrs and "10.0.2.99" not in addrs, addrs
    assert node.ssh("ls /run/nodenet/").stdout.count("reverted-") == 1
    # Ansible reaches the node again and the pending change is gone: confirm says it is too late
    res = node.play(_with_prereqs([{"name": "confirm", "seed.nodenet.confirm": {}, "ignore_errors": True}]),
                    name="confirm-late")
    msg = result_of(res, "confirm")["result"].get("msg", "")
    assert "too late" in msg and "reverted by the watchdog" in msg, msg
    say("confirm-or-revert: reverted by the transient unit (%s); Ansible reaches the node; confirm: %s"
        % (log.strip().splitlines()[-1], msg))


def _declared():
    """The whole declared node: NETWORK and the firewall."""
    return dict(NETWORK, firewall=FIREWALL)


def nodenet_rules(node):
    """The comments of the rules in nftables' `inet nodenet` table (None: no such table)."""
    p = node.ssh("nft -j list table inet nodenet", check=False)
    if p.returncode != 0:
        return None
    return sorted(i["rule"].get("comment", "") for i in json.loads(p.stdout)["nftables"] if "rule" in i)


def test_persist_true(node):
    res = node.play(_with_prereqs([{"name": "persist", "seed.nodenet.network": dict(_declared(), persist=True)}]),
                    name="persist")
    assert result_of(res, "persist")["result"]["changed"]
    rules = nodenet_rules(node)   # the declared rule (one per address family) and the engine's own (loopback)
    assert rules and "system-tier" in rules, rules
    STATE["firewall"] = rules
    for path in ("/etc/nodenet/state.json", "/etc/systemd/system/nodenet.service",
                 "/etc/systemd/system/multi-user.target.wants/nodenet.service",
                 "/usr/local/lib/seed-nodenet/nodenet-apply"):
        node.ssh("test -e %s" % path)
    assert node.ssh("systemctl is-enabled nodenet.service").stdout.strip() == "enabled"
    wants = node.ssh("systemctl show -p Wants --value nodenet.service").stdout.split()
    assert {"sys-subsystem-net-devices-eth1.device", "sys-subsystem-net-devices-eth2.device"} <= set(wants), wants
    view = network_view(node)
    assert view["eth1"] == {"mtu": 1400, "up": True, "addrs": ["192.0.2.10/24", "2001:db8:1::10/64"]}, view
    assert view["eth2.100"] == {"vlan_id": 100, "up": True, "addrs": ["198.51.100.10/24"]}, view
    assert view["routes"] and view["table100"] == ["198.51.100.1"] and view["rules"] == ["198.51.100.0/24"], view
    assert view["hosts"], view
    STATE["view"] = view
    say("persist: true applied (links, VLAN, addresses, routes, rule, hosts, firewall) and the unit enabled; rebooting")


# ------------------------------------------------------------------------- boot 2
def test_persisted_network_is_back_after_a_real_reboot(node):
    node.reboot()
    # everything this boot shows, read before any assertion (the firewall test below reads it too)
    view = network_view(node)
    STATE["boot2_firewall"] = nodenet_rules(node)
    boot_report(node, 2)
    assert view == STATE["view"], "after the reboot:\n%s\nbefore:\n%s" % (view, STATE["view"])
    t = unit_times(node, "nodenet.service", "network-pre.target", "network-online.target")
    svc, pre, online = t["nodenet.service"], t["network-pre.target"], t["network-online.target"]
    assert svc["ActiveState"] == "active" and svc["Result"] == "success", svc
    assert online["ActiveState"] == "active", online
    done = int(svc["ActiveEnterTimestampMonotonic"])
    assert 0 < done <= int(pre["ActiveEnterTimestampMonotonic"]) <= int(online["ActiveEnterTimestampMonotonic"]), t
    log = node.ssh("journalctl -b --no-pager -o cat -u nodenet.service").stdout
    result = json.loads([l for l in log.splitlines() if l.startswith("{")][-1])
    assert result["changed"] and not result.get("failed"), result
    # the journal's own order: the unit finished before the target was reached
    order = node.ssh("journalctl -b --no-pager -o cat _PID=1 | grep -n -e 'Finished nodenet.service' "
                     "-e 'Reached target network-online.target'").stdout.splitlines()
    assert len(order) == 2 and "nodenet.service" in order[0], order
    say("boot 2: network back; nodenet.service finished at %.2fs, network-pre.target %.2fs, "
        "network-online.target %.2fs (monotonic)" % (done / 1e6, int(pre["ActiveEnterTimestampMonotonic"]) / 1e6,
                                                     int(online["ActiveEnterTimestampMonotonic"]) / 1e6))
    assert node.ssh("hostnamectl hostname --static 2>/dev/null || hostnamectl --static").stdout.strip() == "node1.example.test"


def test_persisted_firewall_is_back_after_the_reboot(node):
    assert "boot2_firewall" in STATE, "the reboot test did not run"
    assert STATE["boot2_firewall"] == STATE["firewall"], (STATE["boot2_firewall"], STATE["firewall"])
    say("boot 2: the firewall's rule is back in table inet nodenet")


def test_second_persist_run_changes_nothing(node):
    res = node.play(_with_prereqs([{"name": "persist", "seed.nodenet.network": dict(_declared(), persist=True)}]),
                    name="persist-again")
    assert changed_tasks(res) == [], [result_of(res, t)["result"].get("diff") for t in changed_tasks(res)]
    say("boot 2: persist: true again reports no change")


def test_persist_false_removes_the_unit(node):
    res = node.play(_with_prereqs([{"name": "unpersist", "seed.nodenet.network": dict(_declared(), persist=False)}]),
                    name="unpersist")
    assert result_of(res, "unpersist")["result"]["changed"]
    left = node.ssh("ls -d /etc/nodenet/state.json /etc/systemd/system/nodenet.service "
                    "/etc/systemd/system/multi-user.target.wants/nodenet.service /usr/local/lib/seed-nodenet "
                    "2>/dev/null", check=False).stdout.strip()
    assert left == "", left
    say("boot 2: persist: false removed the unit; rebooting")
    node.reboot()


# ------------------------------------------------------------------------- boot 3
def test_next_boot_leaves_the_network_alone(node):
    boot_report(node, 3)
    load = unit_times(node, "nodenet.service")["nodenet.service"]["LoadState"]
    assert load == "not-found", load
    view = network_view(node)
    assert view["eth1"]["addrs"] == [] and view["eth1"]["mtu"] == 1500, view
    assert view["eth2.100"] is None and view["routes"] == [] and view["rules"] == [], view
    assert node.ssh("ip -br address show eth0").stdout.split()[2].startswith("10.0.2.15/24")
    assert nodenet_rules(node) is None, nodenet_rules(node)
    say("boot 3: no unit, eth1/eth2 as the kernel made them, no VLAN, routes, rules or nodenet firewall table")
