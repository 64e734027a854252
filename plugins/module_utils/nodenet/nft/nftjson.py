# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libnftables JSON: render a canonical table as one transaction, and parse `nft -j list table`
back to the canonical form (both reduced to it, so idempotence never compares text). Pure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.model import CHAIN, FAMILY, L4NUMBER, L4PROTO, TABLE, _L4NAME, _cidrs, _merge
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.model import text_type


# ---------------------------------------------------------------- render: canonical -> libnftables JSON

def _match(left, right, op='=='):
    return {'match': {'op': op, 'left': left, 'right': right}}


def _payload(proto, field):
    return {'payload': {'protocol': proto, 'field': field}}


def _set(items):
    return items[0] if len(items) == 1 else {'set': items}


def _addr_elem(cidr):
    net = ipaddress.ip_network(cidr)
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return {'prefix': {'addr': str(net.network_address), 'len': net.prefixlen}}


def render_rule(rule):
    """One canonical rule -> its nft JSON expression list."""
    expr = []
    ip_payload = 'saddr' in rule or 'hoplimit' in rule
    l4_implied = 'dport' in rule or 'icmp_type' in rule or 'icmpv6_type' in rule
    if 'iifname' in rule:
        expr.append(_match({'meta': {'key': 'iifname'}}, _set(list(rule['iifname']))))
    if 'ct_state' in rule:
        expr.append(_match({'ct': {'key': 'state'}}, list(rule['ct_state']), 'in'))
    if rule.get('nfproto') and not ip_payload:
        expr.append(_match({'meta': {'key': 'nfproto'}}, rule['nfproto']))
    if 'saddr' in rule:
        proto = 'ip' if rule['nfproto'] == 'ipv4' else 'ip6'
        expr.append(_match(_payload(proto, 'saddr'), {'set': [_addr_elem(c) for c in rule['saddr']['set']]},
                           rule['saddr']['op']))
    if 'hoplimit' in rule:
        expr.append(_match(_payload('ip6', 'hoplimit'), rule['hoplimit']))
    if rule.get('l4proto') and not l4_implied:
        expr.append(_match({'meta': {'key': 'l4proto'}}, L4NUMBER.get(rule['l4proto'], rule['l4proto'])))
    if 'dport' in rule:
        elems = [lo if lo == hi else {'range': [lo, hi]} for lo, hi in rule['dport']]
        expr.append(_match(_payload(rule['l4proto'], 'dport'), {'set': elems}))
    if 'icmp_type' in rule:
        expr.append(_match(_payload('icmp', 'type'), {'set': list(rule['icmp_type'])}))
    if 'icmpv6_type' in rule:
        expr.append(_match(_payload('icmpv6', 'type'), {'set': list(rule['icmpv6_type'])}))
    if 'limit' in rule:
        expr.append({'limit': {'rate': rule['limit']['rate'], 'per': rule['limit']['per']}})
    expr.append({'counter': None})
    expr.append({rule['verdict']: None})
    return expr


def _table_obj():
    return {'table': {'family': FAMILY, 'name': TABLE}}


def render_batch(table):
    """The whole transaction: our table is replaced (or removed when `table` is None) at once.

    add + delete + add: the first add makes the delete valid when the table does not exist
    yet; the kernel commits all of it or nothing, so there is never a half ruleset.
    """
    batch = [{'metainfo': {'json_schema_version': 1}}, {'add': _table_obj()}, {'delete': _table_obj()}]
    if table is None:
        return {'nftables': batch}
    batch.append({'add': _table_obj()})
    chain = dict(family=FAMILY, table=TABLE, name=CHAIN, **table['chain'])
    batch.append({'add': {'chain': chain}})
    for rule in table['rules']:
        batch.append({'add': {'rule': {'family': FAMILY, 'table': TABLE, 'chain': CHAIN,
                                       'comment': rule['comment'], 'expr': render_rule(rule)}}})
    return {'nftables': batch}


def restore_batch(listing):
    """A transaction that puts back a table exactly as `nft -j list table` showed it (or removes ours)."""
    batch = [{'metainfo': {'json_schema_version': 1}}, {'add': _table_obj()}, {'delete': _table_obj()}]
    for obj in (listing or {}).get('nftables', []):
        if 'metainfo' in obj:
            continue
        obj = json.loads(json.dumps(obj))
        for body in obj.values():
            body.pop('handle', None)
        batch.append({'add': obj})
    return {'nftables': batch}


# ---------------------------------------------------------------- parse: kernel listing -> canonical

def _elements(right):
    if isinstance(right, dict) and 'set' in right:
        return list(right['set'])
    if isinstance(right, list):
        return list(right)
    return [right]


def _addr_interval(elem):
    if isinstance(elem, dict) and 'prefix' in elem:
        net = ipaddress.ip_network('%s/%s' % (elem['prefix']['addr'], elem['prefix']['len']), strict=False)
        return net.version, (int(net.network_address), int(net.broadcast_address))
    if isinstance(elem, dict) and 'range' in elem:
        lo, hi = [ipaddress.ip_address(text_type(a)) for a in elem['range']]
        return lo.version, (int(lo), int(hi))
    addr = ipaddress.ip_address(text_type(elem))
    return addr.version, (int(addr), int(addr))


def _addr_set(right):
    version, ivs = 4, []
    for elem in _elements(right):
        version, iv = _addr_interval(elem)
        ivs.append(list(iv))
    return _cidrs([tuple(r) for r in _merge(ivs)], version)


def _port_set(right):
    ranges = []
    for elem in _elements(right):
        if isinstance(elem, dict) and 'range' in elem:
            ranges.append([int(elem['range'][0]), int(elem['range'][1])])
        else:
            ranges.append([int(elem), int(elem)])
    return _merge(ranges)


def _l4name(right):
    return _L4NAME.get(text_type(right), right)


def parse_rule(rule):
    """One rule object of `nft -j list table` -> (canonical rule, counters)."""
    out, stats = {}, {}
    if rule.get('comment') is not None:
        out['comment'] = rule['comment']
    for e in rule.get('expr', []):
        if 'match' in e:
            m = e['match']
            left, right, op = m['left'], m['right'], m['op']
            if op == 'in':
                op = '=='
            meta = left.get('meta', {}).get('key') if isinstance(left, dict) else None
            pl = left.get('payload') if isinstance(left, dict) else None
            ct = left.get('ct', {}).get('key') if isinstance(left, dict) else None
            if meta == 'iifname' and op == '==':
                out['iifname'] = sorted(_elements(right))
            elif meta == 'nfproto' and op == '==':
                out['nfproto'] = right
            elif meta == 'l4proto' and op == '==':
                out['l4proto'] = _l4name(right)
            elif ct == 'state' and op == '==':
                out['ct_state'] = sorted(_elements(right))
            elif pl and pl.get('protocol') in ('ip', 'ip6') and pl.get('field') == 'saddr' and op in ('==', '!='):
                out['nfproto'] = 'ipv4' if pl['protocol'] == 'ip' else 'ipv6'
                out['saddr'] = {'op': op, 'set': _addr_set(right)}
            elif pl and pl.get('protocol') == 'ip6' and pl.get('field') == 'hoplimit' and op == '==':
                out['nfproto'] = 'ipv6'
                out['hoplimit'] = int(right)
            elif pl and pl.get('protocol') == 'ip' and pl.get('field') == 'protocol' and op == '==':
                out['nfproto'], out['l4proto'] = 'ipv4', _l4name(right)
            elif pl and pl.get('protocol') == 'ip6' and pl.get('field') == 'nexthdr' and op == '==':
                out['nfproto'], out['l4proto'] = 'ipv6', _l4name(right)
            elif pl and pl.get('protocol') in ('tcp', 'udp') and pl.get('field') == 'dport' and op == '==':
                out['l4proto'] = pl['protocol']
                out['dport'] = _port_set(right)
            elif pl and pl.get('protocol') in ('icmp', 'icmpv6') and pl.get('field') == 'type' and op == '==':
                out['l4proto'] = L4PROTO[pl['protocol']]
                out['icmp_type' if pl['protocol'] == 'icmp' else 'icmpv6_type'] = sorted(_elements(right))
            else:
                out.setdefault('other', []).append(json.dumps(e, sort_keys=True))
        elif 'counter' in e:
            c = e['counter'] or {}
            stats = {'packets': c.get('packets', 0), 'bytes': c.get('bytes', 0)}
        elif 'limit' in e:
            lim = e['limit']
            out['limit'] = {'rate': lim.get('rate'), 'per': lim.get('per', 'second')}
            if lim.get('inv') or lim.get('rate_unit', 'packets') != 'packets':
                out.setdefault('other', []).append(json.dumps(e, sort_keys=True))
        elif 'accept' in e or 'drop' in e:
            out['verdict'] = 'accept' if 'accept' in e else 'drop'
        else:
            out.setdefault('other', []).append(json.dumps(e, sort_keys=True))
    return out, stats


def parse_table(listing):
    """`nft -j list table inet nodenet` (parsed JSON) -> (canonical table, per-rule counters), or (None, [])."""
    if not listing:
        return None, []
    chains, rules, other = [], [], []
    for obj in listing.get('nftables', []):
        if 'chain' in obj:
            chains.append(obj['chain'])
        elif 'rule' in obj:
            rules.append(obj['rule'])
        elif 'metainfo' not in obj and 'table' not in obj:
            other.append(obj)
    table = {'chain': None, 'rules': [], 'extra': []}
    stats = []
    for c in chains:
        spec = dict((k, c.get(k)) for k in ('type', 'hook', 'prio', 'policy'))
        if c.get('name') == CHAIN and table['chain'] is None:
            table['chain'] = spec
        else:
            table['extra'].append('chain %s' % c.get('name'))
    for r in rules:
        if r.get('chain') != CHAIN:
            continue
        rec, st = parse_rule(r)
        table['rules'].append(rec)
        stats.append(st)
    for o in other:
        table['extra'].append('%s %s' % (list(o)[0], list(o.values())[0].get('name')))
    if not table['extra']:
        del table['extra']
    return table, stats
