# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One translator per Talos field family, for both input formats.

The v1alpha1 machine config (machine.py) and the multi-document kinds (documents.py) say the same
things with slightly different field names: a route's destination is `network` in one and
`destination` in the other, a bridge's members `interfaces` or `links`, a bond's mode `mode` or
`bondMode`. Each family is translated here, once; the two readers only say which names their
format uses (the `*_FIELDS` tables of each reader) and where in the document the family sits.

Families: link basics (up, mtu, hardwareAddr), addresses, routes, bond options, VLAN, bridge,
WireGuard (with its peers), VIP, DHCP, sysctls, and the deviceSelector (which links a v1alpha1
interface entry applies to, matched with the engine's own link selector: kinds/selector.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import selector as link_selector
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos.common import (
    DEFAULT_ROUTE_METRIC, as_list, check_known, duration, item, number, sub)

BOOL_BOND = ('tlb_dynamic_lb', 'all_slaves_active', 'use_carrier')
LIST_BOND = ('arp_ip_targets', 'ns_ip6_targets')
WG_PEER = ('publicKey', 'presharedKey', 'endpoint', 'persistentKeepaliveInterval', 'allowedIPs')
WIREGUARD = ('privateKey', 'listenPort', 'firewallMark', 'peers')
ADDRESS = ('address', 'routePriority')
# Talos deviceSelector field -> the engine's link selector qualifier (kinds/selector.py). Talos
# matches each given field as a glob against the link's status and takes the links that match all.
SELECTOR = {'hardwareAddr': 'hardware_addr', 'permanentAddr': 'permanent_addr', 'busPath': 'bus_path',
            'driver': 'driver'}
# ... and the two the engine's selector has no qualifier for: pciID (not among the link facts read
# here) and physical (Talos: an Ethernet link that is no virtual kind, read from the status record).
SELECTOR_FIELDS = tuple(SELECTOR) + ('pciID', 'physical')


# ---------------------------------------------------------------- link basics
def link_basics(b, entry, doc, where):
    """up (Talos brings a configured link up unless `up: false`), mtu, hardwareAddr."""
    up = doc.get('up')
    b.set(entry, 'up', True if up is None else bool(up), where if up is None else sub(where, 'up'))
    if doc.get('mtu'):
        b.set(entry, 'mtu', doc['mtu'], sub(where, 'mtu'))
    if doc.get('hardwareAddr'):
        b.set(entry, 'hardware_addr', str(doc['hardwareAddr']), sub(where, 'hardwareAddr'))


def members(doc, key, where):
    return [str(x) for x in as_list(doc.get(key), sub(where, key))]


# ---------------------------------------------------------------- addresses and routes
def addresses(b, link, doc, where):
    """v1alpha1: `addresses: [CIDR]` and the older `cidr`; documents: `addresses: [{address, routePriority}]`."""
    aw = sub(where, 'addresses')
    for i, a in enumerate(as_list(doc.get('addresses'), aw)):
        w = item(aw, i)
        if isinstance(a, dict):
            check_known(a, ADDRESS, w, 'an address')
            if a.get('address') in (None, ''):
                raise ValidationError('an address needs address (a prefix such as 192.0.2.10/24)', sub(w, 'address'))
            if a.get('routePriority') is not None:
                b.skip(sub(w, 'routePriority'), "the metric of the address's prefix route is the kernel's here (the "
                       "address kind has no route priority); declare a route with that metric instead")
            a = a['address']
        b.add('addresses', {'address': str(a), 'link': link}, w)
    if doc.get('cidr'):
        b.add('addresses', {'address': str(doc['cidr']), 'link': link}, sub(where, 'cidr'))


def routes(b, link, doc, where, known, dest_key):
    """A link's routes. No destination: the default route of the gateway's family; no metric: Talos's
    1024 (an explicit 0 stays 0: Talos can't say it, the export writes it for routes that have it);
    table main unless given (only the documents have `table`)."""
    rws = sub(where, 'routes')
    for i, r in enumerate(as_list(doc.get('routes'), rws)):
        rw = item(rws, i)
        check_known(r, known, rw, 'a route')
        dest, gw, src = (r.get(k) or None for k in (dest_key, 'gateway', 'source'))
        if dest is None:
            dest = '::/0' if any(x and ':' in str(x) for x in (gw, src)) else '0.0.0.0/0'
        metric = r.get('metric')
        entry = {'destination': str(dest), 'gateway': gw and str(gw), 'source': src and str(src), 'link': link,
                 'metric': DEFAULT_ROUTE_METRIC if metric in (None, '') else number(metric, sub(rw, 'metric')),
                 'mtu': r.get('mtu') or None}
        if r.get('table') not in (None, ''):
            entry['table'] = number(r['table'], sub(rw, 'table'))
        b.add('routes', entry, rw)


# ---------------------------------------------------------------- bond, VLAN, bridge
def bond_value(option, value, where):
    if option in LIST_BOND:
        return [str(x) for x in as_list(value, where)]
    if option in BOOL_BOND:
        return bool(value)
    if option == 'ad_lacp_active':
        return value in (True, 'on', 1)
    if option == 'arp_validate' and isinstance(value, str):
        return value.replace('-', '_')
    return value


def bond_options(b, entry, doc, where, table, zero_unset):
    """The bond options `table` ({Talos field: bond option}) names. zero_unset: the v1alpha1 struct
    has no pointers, so 0 and '' there mean "not set" (but useCarrier: false is said)."""
    for k, opt in table.items():
        val = doc.get(k)
        if val is None or (zero_unset and val in ('', 0) and opt != 'use_carrier'):
            continue
        b.set(entry, opt, bond_value(opt, val, sub(where, k)), sub(where, k))


def vlan(b, entry, parent, parent_field, doc, where, id_key, mode_key=None):
    b.set(entry, 'parent', parent and str(parent), parent_field)
    b.set(entry, 'vlan_id', doc.get(id_key), sub(where, id_key))
    if mode_key and doc.get(mode_key):
        b.set(entry, 'protocol', str(doc[mode_key]), sub(where, mode_key))


def bridge(b, entry, doc, where, members_key, filtering_key):
    """Members, STP and VLAN filtering (v1alpha1: interfaces, vlan.vlanFiltering; documents: links, vlan.filtering)."""
    b.set(entry, 'links', members(doc, members_key, where), sub(where, members_key))
    for key, known, option in (('stp', 'enabled', 'stp'), ('vlan', filtering_key, 'vlan_filtering')):
        sect = doc.get(key) or {}
        check_known(sect, (known,), sub(where, key), key)
        if sect.get(known) is not None:
            val = bool(sect[known])
            b.set(entry, option, {'enabled': val} if option == 'stp' else val, sub(where, '%s.%s' % (key, known)))


# ---------------------------------------------------------------- WireGuard and VIP
def wireguard(b, entry, doc, where):
    """privateKey, listenPort, firewallMark and the peers (Talos declares the complete list: none means none)."""
    for k, opt in (('privateKey', 'private_key'), ('listenPort', 'listen_port'), ('firewallMark', 'firewall_mark')):
        if doc.get(k):
            b.set(entry, opt, doc[k], sub(where, k))
    peers = []
    for i, p in enumerate(as_list(doc.get('peers'), sub(where, 'peers'))):
        pw = item(sub(where, 'peers'), i)
        check_known(p, WG_PEER, pw, 'a wireguard peer')
        out = {'public_key': p.get('publicKey')}
        for k, opt in (('presharedKey', 'preshared_key'), ('endpoint', 'endpoint')):
            if p.get(k):
                out[opt] = p[k] if k == 'presharedKey' else str(p[k])
        if p.get('persistentKeepaliveInterval'):
            out['persistent_keepalive_interval'] = duration(p['persistentKeepaliveInterval'],
                                                            sub(pw, 'persistentKeepaliveInterval'))
        if p.get('allowedIPs'):
            out['allowed_ips'] = [str(x) for x in p['allowedIPs']]
        peers.append(out)
    b.set(entry, 'peers', peers, sub(where, 'peers'))


def vip(b, address, link, where):
    b.add('vips', {'address': str(address), 'link': str(link)}, where)


# ---------------------------------------------------------------- DHCP and sysctls
def dhcp(b, entry, option, field, route_metric=None, metric_field=None):
    """dhcp4/dhcp6 on a link; Talos's routeMetric -> dhcp_options.route_metric (one per link here:
    a second, different one is reported)."""
    b.set(entry, option, True, field)
    if not route_metric:
        return
    have = entry.get('dhcp_options')
    if have and have.get('route_metric') != int(route_metric):
        b.skip(metric_field, 'a link has one DHCP route metric here (dhcp_options.route_metric), already %s from %s'
               % (have.get('route_metric'), entry['_from'].get('dhcp_options')))
        return
    b.set(entry, 'dhcp_options', {'route_metric': int(route_metric)}, metric_field)


def sysctls(b, params, where):
    for k, val in (params or {}).items():
        b.sysctls[str(k)] = str(val)
    b.sysctl_field = where


# ---------------------------------------------------------------- deviceSelector
def select(b, sel, where):
    """The names of the node's links a Talos deviceSelector picks (Talos applies the entry to every
    one), or None when it can't be resolved here (reported by name).

    hardwareAddr, permanentAddr, busPath and driver become the engine's selector qualifiers and are
    matched by its matcher (kinds/selector.py: shell globs, MACs without regard to case) against the
    hardware facts network_info reads (LinkStatus); physical compares the record's type and kind, as
    Talos does; pciID can't be matched (no PCI ID among the facts) and is reported."""
    check_known(sel, SELECTOR_FIELDS, where, 'deviceSelector')
    if b.observed is None:
        b.skip(where, "needs the node's links, which are not known here (on the controller): apply this config "
               "with seed.nodenet.network's talos_config, which resolves it on the node")
        return None
    if sel.get('pciID') not in (None, ''):
        b.skip(sub(where, 'pciID'), "the node's link facts have no PCI ID (vendor:product), so this selector can't be "
               "matched as Talos matches it; the entry was not applied (select the NIC by busPath, its PCI address, "
               "or by driver)")
        return None
    given = dict((SELECTOR[k], sel[k]) for k in SELECTOR if sel.get(k) not in (None, ''))
    for k, pat in given.items():
        if not isinstance(pat, str):
            raise ValidationError('must be a string (a pattern; * matches any characters)',
                                  sub(where, [t for t, q in SELECTOR.items() if q == k][0]))
    missing = sorted(t for t, q in SELECTOR.items() if q in given and not any(q in rec for rec in b.observed))
    if missing:
        b.skip(where, "can't be matched here: the node's link records have no %s (match by hardwareAddr, or name "
               "the interface)" % ', '.join(missing))
        return None
    physical = sel.get('physical')
    if not given and physical is None:
        return []      # Talos: a selector that names nothing matches nothing
    qualifiers = link_selector.normalize(given, where) if given else {}
    return [rec['name'] for rec in b.observed
            if link_selector.matches(qualifiers, rec)
            and (physical is None or bool(physical) == (rec.get('kind') is None and rec.get('type') == 'ether'))]


def describe(sel):
    return ', '.join('%s=%s' % kv for kv in sorted(sel.items()))
