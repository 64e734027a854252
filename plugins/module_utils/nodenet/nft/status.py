# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The table as users see it: network_info's record and the text of diffs. Pure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.model import (
    BUILTIN, CHAIN, FAMILY, TABLE, USER_PROTOCOL, _WHOLE, _cidrs, _intervals, _subtract)


# ---------------------------------------------------------------- status and text rendering

def _port_text(lo, hi):
    return lo if lo == hi else '%d-%d' % (lo, hi)


def compact(cidrs):
    """Minimal CIDRs of one family -> fewest [{subnet, except}] covering the same addresses.

    The kernel holds `subnet` minus `except` as a list of CIDRs; this finds the supernets
    again (10.0.0.0/8 except 10.1.2.3/32 instead of 24 CIDRs), so status reads like the input.
    """
    if not cidrs:
        return []
    nets = [ipaddress.ip_network(c) for c in cidrs]
    version = nets[0].version
    allowed = _intervals(nets)
    out, i = [], 0
    while i < len(nets):
        best = (0, nets[i], [], 1)    # (saving, subnet, holes, members covered)
        for plen in range(nets[i].prefixlen - 1, -1, -1):
            sup = nets[i].supernet(new_prefix=plen)
            covered = [n for n in nets[i:] if n.subnet_of(sup)]
            if any(n.subnet_of(sup) for n in nets[:i]) or len(covered) != len([n for n in nets if n.subnet_of(sup)]):
                break
            holes = _cidrs(_subtract(_intervals([sup]), allowed), version)
            saving = len(covered) - 1 - len(holes)
            if saving > best[0]:
                best = (saving, sup, holes, len(covered))
        entry = {'subnet': str(best[1])}
        if best[2]:
            entry['except'] = best[2]
        out.append(entry)
        i += best[3]
    return out


def status(table, stats=None, other_tables=None):
    """What network_info reports: default action and the rules as installed (Talos's form)."""
    out = {'table': '%s %s' % (FAMILY, TABLE), 'present': table is not None, 'default_action': None,
           'rules': [], 'other_tables': list(other_tables or [])}
    if table is None:
        return out
    block = (table.get('chain') or {}).get('policy') == 'drop'
    out['default_action'] = 'block' if block else 'accept'
    by_name, order = {}, []
    for i, rule in enumerate(table['rules']):
        name = rule.get('comment') or ''
        if name.startswith(BUILTIN) or not name:
            continue
        if name not in by_name:
            by_name[name] = {'name': name, 'port_selector': {
                'protocol': USER_PROTOCOL.get(rule.get('l4proto'), rule.get('l4proto')),
                'ports': [_port_text(lo, hi) for lo, hi in rule.get('dport', [])]},
                'ingress': [], 'packets': 0, 'bytes': 0, '_fams': {}}
            order.append(name)
        rec = by_name[name]
        st = (stats or [{}] * len(table['rules']))[i] if stats else {}
        rec['packets'] += st.get('packets', 0)
        rec['bytes'] += st.get('bytes', 0)
        fam = 4 if rule.get('nfproto') == 'ipv4' else 6
        if block:
            rec['_fams'][fam] = rule['saddr']['set'] if 'saddr' in rule else _cidrs(_WHOLE[fam], fam)
        else:
            rec['_fams'][fam] = rule['saddr']['set'] if 'saddr' in rule else []
    for name in order:
        rec = by_name[name]
        fams = rec.pop('_fams')
        for fam in (4, 6):
            proto = rec['port_selector']['protocol']
            if (proto == 'icmp' and fam == 6) or (proto == 'icmpv6' and fam == 4):
                continue
            if fam in fams:
                subnets = fams[fam]
            else:
                subnets = [] if block else _cidrs(_WHOLE[fam], fam)
            rec['ingress'].extend(compact(subnets))
        out['rules'].append(rec)
    return out


# How `nft list` orders ICMP types (by number) and names chain priorities; the diff uses the
# listing's form so it reads like the README and like what `nft list table inet nodenet` shows.
_ICMP_ORDER = dict((n, i) for i, n in enumerate((
    'timestamp-request', 'timestamp-reply', 'address-mask-request', 'address-mask-reply',
    'nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit', 'nd-neighbor-advert', 'nd-redirect')))
_PRIORITY_NAMES = (('raw', -300), ('mangle', -150), ('dstnat', -100), ('filter', 0), ('security', 50), ('srcnat', 100))


def _values(items):
    """One value bare, several in braces: as `nft list` prints a set."""
    items = list(items)
    return items[0] if len(items) == 1 else '{ %s }' % ', '.join(items)


def _addr_text(cidrs):
    """Minimal CIDRs -> nft's listing of them: merged intervals, each an address, a prefix or a range."""
    nets = [ipaddress.ip_network(c) for c in cidrs]
    if not nets:
        return '{ }'
    cls = ipaddress.IPv4Address if nets[0].version == 4 else ipaddress.IPv6Address
    out = []
    for lo, hi in _intervals(nets):
        pieces = list(ipaddress.summarize_address_range(cls(lo), cls(hi)))
        if len(pieces) > 1:
            out.append('%s-%s' % (cls(lo), cls(hi)))
        elif pieces[0].num_addresses == 1:
            out.append(str(pieces[0].network_address))
        else:
            out.append(str(pieces[0]))
    return _values(out)


def _priority_text(prio):
    if not isinstance(prio, int):
        return prio
    name, base = max((p for p in _PRIORITY_NAMES if p[1] <= prio), key=lambda p: p[1], default=(None, 0))
    if name is None or prio - base > 10:
        return str(prio)
    return name if prio == base else '%s + %d' % (name, prio - base)


def format_rule(rule):
    """A canonical rule as one line in the form `nft list` prints it, without counters (for diffs).

    Implied matches are left out as nft leaves them out (`icmp type` implies the ICMP protocol,
    `ip6 hoplimit` the IPv6 family), one-element sets print as the value.
    """
    parts = []
    if 'iifname' in rule:
        parts.append('iifname %s' % _values('"%s"' % n for n in rule['iifname']))
    if 'ct_state' in rule:
        parts.append('ct state %s' % ','.join(rule['ct_state']))
    if 'nfproto' in rule and 'saddr' not in rule and 'hoplimit' not in rule:
        parts.append('meta nfproto %s' % rule['nfproto'])
    if 'saddr' in rule:
        parts.append('%s saddr %s%s' % ('ip' if rule['nfproto'] == 'ipv4' else 'ip6',
                                        '!= ' if rule['saddr']['op'] == '!=' else '', _addr_text(rule['saddr']['set'])))
    if 'hoplimit' in rule:
        parts.append('ip6 hoplimit %d' % rule['hoplimit'])
    if 'l4proto' in rule and not any(k in rule for k in ('dport', 'icmp_type', 'icmpv6_type')):
        parts.append('meta l4proto %s' % rule['l4proto'])
    if 'dport' in rule:
        parts.append('%s dport %s' % (rule['l4proto'], _values(str(_port_text(lo, hi)) for lo, hi in rule['dport'])))
    for key, word in (('icmp_type', 'icmp type'), ('icmpv6_type', 'icmpv6 type')):
        if key in rule:
            parts.append('%s %s' % (word, _values(sorted(rule[key], key=lambda t: (_ICMP_ORDER.get(t, 99), t)))))
    if 'limit' in rule:
        parts.append('limit rate %s/%s' % (rule['limit']['rate'], rule['limit']['per']))
    parts.extend(rule.get('other', []))
    parts.append(rule.get('verdict', 'continue'))
    if rule.get('comment'):
        parts.append('comment "%s"' % rule['comment'])
    return ' '.join(parts)


def format_table(table):
    """The whole table as `nft list table inet nodenet` prints it (two-space indent, no counters)."""
    if table is None:
        return ''
    c = table.get('chain') or {}
    lines = ['table %s %s {' % (FAMILY, TABLE), '  chain %s {' % CHAIN,
             '    type %s hook %s priority %s; policy %s;'
             % (c.get('type'), c.get('hook'), _priority_text(c.get('prio')), c.get('policy'))]
    lines += ['    ' + format_rule(r) for r in table['rules']]
    lines += ['  }']
    lines += ['  # also in the table: %s' % x for x in table.get('extra', [])]
    lines += ['}']
    return '\n'.join(lines) + '\n'
