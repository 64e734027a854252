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


def format_rule(rule):
    """A canonical rule as one line of nft-like text (for diffs)."""
    parts = []
    if 'iifname' in rule:
        parts.append('iifname { %s }' % ', '.join(rule['iifname']))
    if 'ct_state' in rule:
        parts.append('ct state { %s }' % ', '.join(rule['ct_state']))
    if 'nfproto' in rule and 'saddr' not in rule:
        parts.append('meta nfproto %s' % rule['nfproto'])
    if 'saddr' in rule:
        parts.append('%s saddr %s{ %s }' % ('ip' if rule['nfproto'] == 'ipv4' else 'ip6',
                                            '!= ' if rule['saddr']['op'] == '!=' else '', ', '.join(rule['saddr']['set'])))
    if 'hoplimit' in rule:
        parts.append('ip6 hoplimit %d' % rule['hoplimit'])
    if 'l4proto' in rule and 'dport' not in rule:
        parts.append('meta l4proto %s' % rule['l4proto'])
    if 'dport' in rule:
        parts.append('%s dport { %s }' % (rule['l4proto'], ', '.join(str(_port_text(lo, hi)) for lo, hi in rule['dport'])))
    for key, word in (('icmp_type', 'icmp type'), ('icmpv6_type', 'icmpv6 type')):
        if key in rule:
            parts.append('%s { %s }' % (word, ', '.join(rule[key])))
    if 'limit' in rule:
        parts.append('limit rate %s/%s' % (rule['limit']['rate'], rule['limit']['per']))
    parts.extend(rule.get('other', []))
    parts.append(rule.get('verdict', 'continue'))
    if rule.get('comment'):
        parts.append('comment "%s"' % rule['comment'])
    return ' '.join(parts)


def format_table(table):
    if table is None:
        return ''
    c = table.get('chain') or {}
    lines = ['table %s %s {' % (FAMILY, TABLE), '  chain %s {' % CHAIN,
             '    type %s hook %s priority %s; policy %s;' % (c.get('type'), c.get('hook'), c.get('prio'), c.get('policy'))]
    lines += ['    ' + format_rule(r) for r in table['rules']]
    lines += ['  }']
    lines += ['  # also in the table: %s' % x for x in table.get('extra', [])]
    lines += ['}']
    return '\n'.join(lines) + '\n'
