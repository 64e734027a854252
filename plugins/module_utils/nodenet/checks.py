# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cross-object checks: the rules no single entry can break alone, judged on the node as it will be
after a plan (declared objects, the plan's removals and what stays on the node). Pure: records,
a State and the plan's operations in, ValidationError naming the field out. The planner's data
cases (tests/unit/cases/planner.yml, `error:`) cover them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any, Dict, List

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.base import Op, Record
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS, LINK_KINDS

# Bytes a VXLAN header adds, by the family of its underlay (the kernel's max_mtu for it).
VXLAN_HEADROOM = {4: 50, 6: 70}
Records = Dict[str, List[Record]]


def whole_node(records: Records, state: Any, ops: List[Op]) -> None:
    """The network module's rules: MTUs along parents and bonds, one link per address, gateways on a
    subnet, route sources among the node's addresses."""
    check_mtus(_final_links(records, state, ops))
    if 'address' in records or 'route' in records:
        addrs = _final_addresses(records, state, ops)
        check_addresses(addrs)
        if 'route' in records:
            check_gateways(records, state, ops, addrs)
            check_sources(records, addrs)


def single_kind(records: Records, state: Any, ops: List[Op]) -> None:
    """The rules a single-kind module's one entry can break too: a link's MTU against its parent's, a
    route's source against the node's addresses."""
    if records.get('link'):
        check_mtus(_final_links(records, state, ops))
    if any(r.get('source') for r in records.get('route', [])):
        check_sources(records, _final_addresses(records, state, ops))


def _final_links(records, state, ops):
    """name -> {mtu, parent, kind, members, declared mtu} as it will be after the plan."""
    observed = state.links()
    gone = set(op['key'] for op in ops if op['kind'] == 'link' and op['action'] == 'delete')
    out = {}
    for name, obs in observed.items():
        if name not in gone:
            out[name] = {'mtu': obs.get('mtu'), 'parent': obs.get('parent'), 'kind': obs.get('kind'), 'where': None}
    for kind in LINK_KINDS:
        for rec in records.get(kind, []):
            if rec.get('state') == 'absent':
                out.pop(rec['name'], None)
                continue
            cur = out.setdefault(rec['name'], {'mtu': None, 'parent': None, 'kind': rec.get('kind', kind)})
            cur['where'] = rec.get('_where')
            cur['section_kind'] = kind
            if rec.get('mtu') is not None:
                cur['mtu'] = rec['mtu']
                cur['mtu_declared'] = True
            if rec.get('parent'):
                cur['parent'] = rec['parent']
            if rec.get('links'):
                cur['members'] = list(rec['links'])
            for k in ('local', 'remote', 'group'):
                if rec.get(k):
                    cur['family'] = v.parse_address(rec[k]).version
    return out


def check_mtus(links):
    """A link on a parent (VLAN, macvlan, VXLAN) can't have a larger MTU than the parent allows;
    a bond's members can't be declared with an MTU other than the bond's (the kernel sets theirs)."""
    for name, link in sorted(links.items()):
        parent = links.get(link.get('parent') or '')
        if link.get('mtu_declared') and parent and parent.get('mtu'):
            room = VXLAN_HEADROOM[link.get('family', 4)] if link.get('kind') == 'vxlan' else 0
            if link['mtu'] > parent['mtu'] - room:
                extra = ' minus the %d bytes of VXLAN headers' % room if room else ''
                raise ValidationError("link '%s' has MTU %d but its parent '%s' has MTU %d%s; the kernel allows at most %d"
                                      % (name, link['mtu'], link['parent'], parent['mtu'], extra, parent['mtu'] - room),
                                      v.sub(link.get('where') or '', 'mtu'))
        if link.get('section_kind') == 'bond' and link.get('members'):
            for m in link['members']:
                member = links.get(m) or {}
                if member.get('mtu_declared') and link.get('mtu') and member['mtu'] != link['mtu']:
                    raise ValidationError("link '%s' is a member of bond '%s' and is declared with MTU %d, but the bond's is %d "
                                          "(the kernel gives members the bond's MTU)" % (m, name, member['mtu'], link['mtu']),
                                          v.sub(member.get('where') or '', 'mtu'))


def _final_addresses(records, state, ops):
    """[(ip_interface, link, where or None)] after the plan."""
    gone = set(op['key'] for op in ops if op['kind'] == 'address' and op['action'] == 'delete')
    dead_links = set(op['key'] for op in ops if op['kind'] in LINK_KINDS and op['action'] == 'delete')
    out = []
    declared = set()
    for rec in records.get('address', []):
        k = KINDS['address'].key(rec)
        if rec['state'] == 'present':
            declared.add(k)
            out.append((v.parse_interface(rec['address']), rec['link'], rec.get('_where')))
        else:
            gone.add(k)
    for k, obs in state.get('address').items():
        if k not in gone and k not in declared and obs['link'] not in dead_links:
            out.append((v.parse_interface(obs['address']), obs['link'], None))
    return out


def check_addresses(addresses):
    """The same IP address on two links (link-local and loopback ones aside) is a mistake."""
    seen = {}
    for iface, link, where in addresses:
        ip = iface.ip
        if ip.is_link_local or ip.is_loopback:
            continue
        if ip in seen and seen[ip][0] != link:
            other_link, other_where = seen[ip]
            if where is None:
                where, other_where, link, other_link = other_where, where, other_link, link
            raise ValidationError("address %s would be on both '%s' and '%s' (%s); an address belongs to one link"
                                  % (ip, link, other_link, 'declared at %s' % other_where if other_where else 'present on the node'),
                                  v.sub(where or '', 'address'))
        seen.setdefault(ip, (link, where))


def check_gateways(records, state, ops, addresses):
    """A gateway must be on a subnet of some link (of the route's link, when it names one): an address's
    subnet, or a directly connected route (a route with a link and no gateway)."""
    onlink = [(iface.network, link) for iface, link, dummy in addresses]
    gone = set(op['key'] for op in ops if op['kind'] == 'route' and op['action'] == 'delete')
    for rec in records.get('route', []):
        if rec['state'] == 'present' and rec.get('link') and not rec.get('gateway') and rec['type'] == 'unicast':
            onlink.append((v.parse_network(rec['destination']), rec['link']))
    for k, obs in state.get('route').items():
        if k not in gone and obs.get('link') and not obs.get('gateway') and obs['type'] == 'unicast':
            onlink.append((v.parse_network(obs['destination']), obs['link']))
    # {(version, prefixlen): {network: set(links)}}: a gateway's subnets are found by masking it
    # once per prefix length in use, not by testing every network (thousands of routes stay fast)
    index = {}
    for net, link in onlink:
        index.setdefault((net.version, net.prefixlen), {}).setdefault(net, set()).add(link)
    for rec in records.get('route', []):
        if rec['state'] != 'present' or not rec.get('gateway'):
            continue
        gw = v.parse_address(rec['gateway'])
        if gw.version == 6 and gw.is_link_local:
            if not rec.get('link'):
                raise ValidationError("gateway %s is an IPv6 link-local address: set link too" % gw, v.sub(rec.get('_where', ''), 'link'))
            continue
        ok = []
        for (ver, plen), nets in index.items():
            if ver == gw.version:
                links = nets.get(v.parse_network('%s/%d' % (gw, plen), strict=False), ())
                ok.extend(link for link in links if not rec.get('link') or link == rec['link'])
        if not ok:
            raise ValidationError("gateway %s is not on the subnet of any address or connected route%s (declared or present); "
                                  "the kernel would refuse the route" % (gw, " of link '%s'" % rec['link'] if rec.get('link') else ''),
                                  v.sub(rec.get('_where', ''), 'gateway'))


def check_sources(records, addresses):
    """A route's source (its preferred source address) must be an address of the node."""
    local = set(iface.ip for iface, dummy, dummy2 in addresses)
    for rec in records.get('route', []):
        if rec['state'] == 'present' and rec.get('source') and v.parse_address(rec['source']) not in local:
            raise ValidationError("source %s is not an address of this node (declared or present); the kernel only "
                                  "takes one of its own addresses as a route's source" % rec['source'],
                                  v.sub(rec.get('_where', ''), 'source'))
