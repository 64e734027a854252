"""The engine's own netlink decoders against pyroute2's generic one: the link dump on real links of
every kind this kernel can make (veth, bridge, macvlan, vxlan ...; bond, VLAN, dummy and WireGuard
in the VM tier, tests/vm/test_vm_linkdump.py) and the rule dump: every record must come out the same;
and requests the engine encodes itself (addresses, routes in one batch) land as declared."""
import json
import os

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import linkdump
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import link_index, open_netlink
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import rule
from linkdump_check import compare, make_links, pyroute2_rules, sh


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
        br = linkdump.one(nl, link_index(nl, 'br0'))
        assert br.get('linkinfo').get('data').get_attr('IFLA_BR_STP_STATE') == 1
        assert br.get('linkinfo').get('data').get_attr('IFLA_BR_FORWARD_DELAY') == 1500
        with pytest.raises(Exception) as e:
            link_index(nl, 'nosuch0')
        assert "'nosuch0'" in str(e.value)
        with pytest.raises(OSError):
            linkdump.one(nl, 999999)
    finally:
        nl.close()


RULES = [
    ('from', '10.0.0.0/8', 'lookup', '100', 'prio', '100'),
    ('to', '192.168.0.0/16', 'table', '200', 'prio', '110'),
    ('iif', 'p0', 'lookup', '300', 'prio', '120'),
    ('oif', 'p1', 'lookup', '301', 'prio', '121'),
    ('fwmark', '0x10/0xff', 'lookup', '400', 'prio', '130'),
    ('fwmark', '7', 'lookup', '401', 'prio', '131'),
    ('from', '10.9.0.0/16', 'prohibit', 'prio', '140'),
    ('to', '10.8.0.0/16', 'unreachable', 'prio', '141'),
    ('from', '10.7.0.0/16', 'goto', '200', 'prio', '142'),
    ('prio', '150', 'nop'),
    ('from', 'all', 'lookup', '5000', 'prio', '160'),          # a table number above 255
]
RULES6 = [('from', 'fd00::/64', 'lookup', '500', 'prio', '100'), ('to', 'fd01::1/128', 'blackhole', 'prio', '101')]


def test_rule_decoder_equals_pyroute2(netns, made):
    for r in RULES:
        sh('ip', '-n', netns, 'rule', 'add', *r)
    for r in RULES6:
        sh('ip', '-6', '-n', netns, 'rule', 'add', *r)
    nl = open_netlink(netns)
    try:
        ours, theirs = rule.read(nl), pyroute2_rules(nl)
    finally:
        nl.close()
    assert ours == theirs
    assert len(ours) >= len(RULES) + len(RULES6) + 4       # and the kernel's own (local, main, default)
    fw = [r for r in ours.values() if r.get('fw_mark') == 0x10]
    assert fw and fw[0]['fw_mask'] == 0xff and fw[0]['table'] == 400
    assert any(r.get('table') == 5000 for r in ours.values())


def test_own_requests_land_as_declared(netns, made, ip):
    """Addresses and routes the engine encodes itself (netlink.Request), in one batch each."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import converge
    spec = {'addresses': [{'address': '10.60.%d.1/24' % i, 'link': 'p0', 'label': 'p0:%d' % i} for i in range(10)]
            + [{'address': 'fd60::%x/64' % (i + 1), 'link': 'p0'} for i in range(10)],
            'routes': [{'destination': '172.30.%d.0/24' % i, 'gateway': '10.60.%d.254' % i, 'metric': 50 + i} for i in range(10)]
            + [{'destination': '172.31.%d.0/24' % i, 'link': 'p0', 'table': 300, 'mtu': 1400} for i in range(10)]
            + [{'destination': 'fd70:%x::/64' % i, 'gateway': 'fd60::1'} for i in range(10)]}
    spec['routes'][-10:] = [{'destination': 'fd70:%x::/64' % i, 'gateway': 'fd60::ff'} for i in range(10)]
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.network import converge
    first = converge(json.loads(json.dumps(spec)), netns=netns)
    assert first['changed'] and len(first['operations']) == 50
    v4 = dict((a['local'], a) for i in ip('-4', 'addr', 'show', 'dev', 'p0') for a in i['addr_info'])
    assert all(v4['10.60.%d.1' % i]['prefixlen'] == 24 and v4['10.60.%d.1' % i]['label'] == 'p0:%d' % i for i in range(10))
    v6 = set(a['local'] for i in ip('-6', 'addr', 'show', 'dev', 'p0') for a in i['addr_info'])
    assert set('fd60::%x' % (i + 1) for i in range(10)) <= v6
    main = dict((r['dst'], r) for r in ip('-4', 'route', 'show', 'proto', 'static'))
    assert all(main['172.30.%d.0/24' % i]['gateway'] == '10.60.%d.254' % i and main['172.30.%d.0/24' % i]['metric'] == 50 + i
               for i in range(10))
    t300 = dict((r['dst'], r) for r in ip('-4', 'route', 'show', 'table', '300'))
    assert all(t300['172.31.%d.0/24' % i]['dev'] == 'p0' and t300['172.31.%d.0/24' % i]['metrics'] == [{'mtu': 1400}] for i in range(10))
    assert len([r for r in ip('-6', 'route', 'show', 'proto', 'static') if r.get('gateway') == 'fd60::ff']) == 10
    assert converge(json.loads(json.dumps(spec)), netns=netns)['changed'] is False
    gone = dict((sec, [dict(e, state='absent') for e in spec[sec]]) for sec in spec)
    removed = converge(gone, netns=netns)
    assert len(removed['operations']) == 50
    assert not [a for i in ip('addr', 'show', 'dev', 'p0') for a in i['addr_info'] if a['local'].startswith(('10.60.', 'fd60::'))]
    assert not ip('route', 'show', 'table', '300') and not ip('-4', 'route', 'show', 'proto', 'static')


def fresh_python(code, netns):
    """Run `code` (its last line printed is JSON) in a fresh interpreter with this test's imports path."""
    import subprocess
    import sys
    p = subprocess.run([sys.executable, '-c', code, netns], capture_output=True, text=True, check=True,
                       env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)))
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_call_that_changes_nothing_never_imports_pyroute2(netns, made):
    """Start-up: pyroute2 (the package imports nearly all of itself) is loaded only when a call has
    something to change; reading a node with links, addresses, routes and rules, and planning
    nothing, is done by the engine's own decoders. network_info too. In a fresh interpreter."""
    sh('ip', '-n', netns, 'addr', 'add', '10.61.0.1/24', 'dev', 'p0')
    sh('ip', '-n', netns, 'route', 'add', '172.29.0.0/24', 'via', '10.61.0.254', 'proto', 'static')
    sh('ip', '-n', netns, 'rule', 'add', 'from', '10.61.0.0/24', 'lookup', '100')
    code = '\n'.join([
        'import json, sys',
        'from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.network import converge',
        'from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather',
        'ns = sys.argv[1]',
        'spec = {"links": [{"name": "p0", "mtu": 9000}], "addresses": [{"address": "10.61.0.1/24", "link": "p0"}],',
        '        "routes": [{"destination": "172.29.0.0/24", "gateway": "10.61.0.254"}]}',
        'out = [converge({}, netns=ns)["changed"], converge(spec, netns=ns)["changed"], converge(spec, netns=ns, check_mode=True)["changed"]]',
        'info = gather(ns, resources=("links", "addresses", "routes", "rules"))',
        'print(json.dumps([out, len(info["links"]), "pyroute2" in sys.modules]))',
    ])
    changed, nlinks, imported = fresh_python(code, netns)
    assert changed == [False, False, False] and nlinks >= 8
    assert imported is False, 'pyroute2 was imported by a call that changed nothing'


def test_a_node_of_veths_macvlans_addresses_and_routes_is_made_without_pyroute2(netns, made, ip):
    """Creating links (veth, macvlan) as well as addresses and routes: each run of them goes to the
    kernel as requests the engine encoded itself, so a whole node is made, and removed again, without
    loading pyroute2. In a fresh interpreter."""
    code = '\n'.join([
        'import json, sys',
        'from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.network import converge',
        'ns = sys.argv[1]',
        'links = [{"name": "nv%d" % i, "kind": "veth", "peer": "nvp%d" % i, "up": True} for i in range(10)]',
        'links += [{"name": "nm%d" % i, "kind": "macvlan", "parent": "nv%d" % i, "up": True, "mtu": 1400} for i in range(10)]',
        'spec = {"links": links, "addresses": [{"address": "10.62.%d.1/24" % i, "link": "nm%d" % i} for i in range(10)],',
        '        "routes": [{"destination": "172.30.%d.0/24" % i, "gateway": "10.62.%d.254" % i} for i in range(10)]}',
        'made = converge(spec, netns=ns)',
        'again = converge(spec, netns=ns)["changed"]',
        'gone = converge({"links": [{"name": l["name"], "state": "absent"} for l in links]}, netns=ns)',
        'print(json.dumps([len(made["operations"]), again, len(gone["operations"]), "pyroute2" in sys.modules]))',
    ])
    made_ops, again, gone_ops, imported = fresh_python(code, netns)
    assert (made_ops, again, gone_ops) == (40, False, 20)
    assert not [l for l in ip('link', 'show') if l['ifname'].startswith(('nv', 'nm'))]
    assert imported is False, 'pyroute2 was imported to create veths, macvlans, addresses and routes'
