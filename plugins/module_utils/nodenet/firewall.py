# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ingress firewall: one nftables table of our own, like Talos's ingress chain.

The model is Talos's NetworkDefaultActionConfig + NetworkRuleConfig. A firewall is one
whole-table object, so its pipeline is simpler than the netlink kinds':

    normalize(params)   -> model              pure; ValidationError naming the field
    compile_model(model)-> canonical table    pure; what must be in the kernel
    parse_table(json)   -> canonical table    pure; what `nft -j list table` shows
    render_batch(table) -> libnftables JSON   pure; one transaction (add+delete+add table)
    evaluate(table, packet) -> verdict        pure; used by the lock-out guard
    converge_firewall(params, netns, ...)     reads, plans, checks (`nft -c`), applies, verifies

A canonical rule is a flat dict of the matches this module uses (iifname, ct_state, nfproto,
l4proto, saddr, dport, icmp_type, icmpv6_type, hoplimit, limit) plus comment and verdict.
The kernel's listing and our rendering differ in form (a one-element set prints as a
value, prefixes may print as ranges, implied protocol matches are hidden), so both are
reduced to this form and compared there: idempotence never compares text.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import json
import os
import re

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import (
    ApplyError, KernelError, NodenetError, ValidationError)
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import check_netns, in_netns, netns_path

FAMILY = 'inet'
TABLE = 'nodenet'
CHAIN = 'ingress'
# Talos's ingress chain: filter hook input, priority mangle + 10.
CHAIN_SPEC = {'type': 'filter', 'hook': 'input', 'prio': -140}
PROTOCOLS = ('tcp', 'udp', 'icmp', 'icmpv6', 'vrrp', 'ipencap')
L4PROTO = {'tcp': 'tcp', 'udp': 'udp', 'icmp': 'icmp', 'icmpv6': 'ipv6-icmp', 'vrrp': 'vrrp', 'ipencap': 'ipencap'}
USER_PROTOCOL = dict((n, p) for p, n in L4PROTO.items())
# Protocols rendered by number: nft names them only through /etc/protocols, which minimal
# systems lack; the listing shows the name or the number, both read back as the name.
L4NUMBER = {'vrrp': 112, 'ipencap': 4}   # VRRP; IP-in-IP (Calico's IPIP, the kernel's tunl0)
_L4NAME = dict((str(n), name) for name, n in L4NUMBER.items())
OPTIONS = ('default_action', 'rules', 'state', 'allow_lockout')
# The firewall module's options (and the network module's `firewall` section).
ARGSPEC = dict(
    default_action=dict(type='str', default='accept', choices=['accept', 'block']),
    rules=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', required=True),
        port_selector=dict(type='dict', required=True, options=dict(
            protocol=dict(type='str', required=True, choices=list(PROTOCOLS)),
            ports=dict(type='list', elements='raw'),
        )),
        ingress=dict(type='list', elements='dict', default=[], options={
            'subnet': dict(type='str', required=True),
            'except': dict(type='list', elements='str'),
        }),
    )),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    allow_lockout=dict(type='bool', default=False),
)
RULE_OPTIONS = ('name', 'port_selector', 'ingress')
ICMP_RATE = 5            # packets per second, as Talos
BUILTIN = 'nodenet:'     # comment prefix of the rules this module always adds (':' is not allowed in names)
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$')
_WHOLE = {4: [(0, (1 << 32) - 1)], 6: [(0, (1 << 128) - 1)]}
_NFPROTO = {4: 'ipv4', 6: 'ipv6'}

try:
    text_type = unicode  # noqa: F821  (Python 2 guard for ansible-test compile checks)
except NameError:
    text_type = str


class NftMissing(NodenetError):
    """The nft command is not installed."""


class LockoutError(ValidationError):
    """The policy would block the SSH connection Ansible is using."""


# ---------------------------------------------------------------- model (validate + normalise)

def _ports(value, field):
    """['22', 80, '1000-2000'] -> merged sorted [[lo, hi], ...]."""
    if not isinstance(value, list):
        value = [value]
    ranges = []
    for i, item in enumerate(value):
        f = '%s[%d]' % (field, i)
        if isinstance(item, bool):
            raise ValidationError("a port is a number 1-65535 or a range like '1000-2000', got a boolean", f)
        s = text_type(item).strip()
        if '-' in s:
            lo, hi = s.split('-', 1)
            lo = _port(lo.strip(), f, item)
            hi = _port(hi.strip(), f, item)
            if lo > hi:
                raise ValidationError("range '%s' ends before it starts" % item, f)
        else:
            lo = hi = _port(s, f, item)
        ranges.append([lo, hi])
    return _merge(ranges)


def _port(s, field, item):
    if not s.isdigit():
        raise ValidationError("'%s' is not a port: use a number 1-65535 or a range like '1000-2000'" % item, field)
    n = int(s)
    if not 1 <= n <= 65535:
        raise ValidationError("port %d is out of range: allowed 1-65535" % n, field)
    return n


def _merge(ranges):
    out = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def _intervals(nets):
    """ip_networks -> merged [(lo, hi)] of integers."""
    return [tuple(r) for r in _merge([[int(n.network_address), int(n.broadcast_address)] for n in nets])]


def _subtract(intervals, holes):
    out = []
    for lo, hi in intervals:
        cur = [(lo, hi)]
        for hlo, hhi in holes:
            nxt = []
            for a, b in cur:
                if hhi < a or hlo > b:
                    nxt.append((a, b))
                    continue
                if a < hlo:
                    nxt.append((a, hlo - 1))
                if hhi < b:
                    nxt.append((hhi + 1, b))
            cur = nxt
        out.extend(cur)
    return out


def _cidrs(intervals, version):
    cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    out = []
    for lo, hi in intervals:
        out.extend(str(n) for n in ipaddress.summarize_address_range(cls(lo), cls(hi)))
    return out


def _allowed(ingress):
    """{4: [cidr...], 6: [cidr...]}: the union of the subnets minus their exceptions, as minimal CIDRs."""
    per = {4: [], 6: []}
    for entry in ingress:
        holes = _intervals(entry['except'])
        per[entry['subnet'].version].extend(_subtract(_intervals([entry['subnet']]), holes))
    return dict((fam, _cidrs([tuple(r) for r in _merge([list(i) for i in per[fam]])], fam)) for fam in (4, 6))


def normalize(params, where=''):
    """Validate the firewall options (the module's, or the network module's firewall section).

    Returns the model; raises ValidationError naming the field. Touches nothing.
    """
    if not isinstance(params, dict):
        raise ValidationError("must be a mapping with default_action, rules and state", where or 'firewall')
    params = dict((k, val) for k, val in params.items() if val is not None)
    v.reject_unknown(params, OPTIONS, where)

    def f(name):
        return v.sub(where, name)

    model = {
        'state': v.choice(params.get('state', 'present'), f('state'), ('present', 'absent')),
        'default_action': v.choice(params.get('default_action', 'accept'), f('default_action'), ('accept', 'block')),
        'allow_lockout': bool(params.get('allow_lockout', False)),
        'rules': [],
    }
    rules = params.get('rules') or []
    if not isinstance(rules, list):
        raise ValidationError("must be a list of rules (name, port_selector, ingress)", f('rules'))
    seen = {}
    for i, rule in enumerate(rules):
        model['rules'].append(_rule(rule, '%s[%d]' % (f('rules'), i), seen))
    if model['state'] == 'absent' and model['rules']:
        raise ValidationError("state=absent removes the whole table; give no rules with it", f('rules'))
    return model


def _rule(rule, where, seen):
    if not isinstance(rule, dict):
        raise ValidationError("a rule is a mapping with name, port_selector and ingress", where)
    rule = dict((k, val) for k, val in rule.items() if val is not None)
    v.reject_unknown(rule, RULE_OPTIONS, where)
    name = rule.get('name')
    if not isinstance(name, (str, text_type)) or not _NAME.match(name):
        raise ValidationError("a rule needs a name of 1-63 characters: letters, digits, '_', '.', '-' "
                              "(starting with a letter or digit), got %r" % (name,), v.sub(where, 'name'))
    if name in seen:
        raise ValidationError("rule name '%s' is used twice (also %s); names must be unique" % (name, seen[name]),
                              v.sub(where, 'name'))
    seen[name] = where
    ps = rule.get('port_selector')
    psw = v.sub(where, 'port_selector')
    if not isinstance(ps, dict):
        raise ValidationError("required: a mapping with protocol (%s) and ports" % ', '.join(PROTOCOLS), psw)
    ps = dict((k, val) for k, val in ps.items() if val is not None)
    v.reject_unknown(ps, ('ports', 'protocol'), psw)
    if 'protocol' not in ps:
        raise ValidationError("required; choose one of: %s" % ', '.join(PROTOCOLS), v.sub(psw, 'protocol'))
    proto = v.choice(ps['protocol'], v.sub(psw, 'protocol'), PROTOCOLS)
    ports = ps.get('ports')
    if proto in ('tcp', 'udp'):
        if ports in (None, [], ''):
            raise ValidationError("%s rules need ports (numbers 1-65535 or ranges like '1000-2000')" % proto,
                                  v.sub(psw, 'ports'))
        ports = _ports(ports, v.sub(psw, 'ports'))
    elif ports not in (None, []):
        raise ValidationError("%s has no ports; give ports only with tcp or udp" % proto, v.sub(psw, 'ports'))
    else:
        ports = []
    ingress = rule.get('ingress') or []
    if not isinstance(ingress, list):
        raise ValidationError("must be a list of mappings with subnet and optional except", v.sub(where, 'ingress'))
    entries = []
    for j, ing in enumerate(ingress):
        iw = '%s[%d]' % (v.sub(where, 'ingress'), j)
        if isinstance(ing, (str, text_type)):
            ing = {'subnet': ing}
        if not isinstance(ing, dict):
            raise ValidationError("an ingress entry is a mapping with subnet and optional except", iw)
        ing = dict((k, val) for k, val in ing.items() if val is not None)
        v.reject_unknown(ing, ('subnet', 'except'), iw)
        if 'subnet' not in ing:
            raise ValidationError("required: a source network in CIDR form, e.g. 10.0.0.0/8 or ::/0", v.sub(iw, 'subnet'))
        net = v.network(ing['subnet'], v.sub(iw, 'subnet'))
        if proto == 'icmp' and net.version == 6:
            raise ValidationError("%s is IPv6 but icmp is IPv4's; use protocol icmpv6 for IPv6 sources" % net, v.sub(iw, 'subnet'))
        if proto == 'icmpv6' and net.version == 4:
            raise ValidationError("%s is IPv4 but icmpv6 is IPv6's; use protocol icmp for IPv4 sources" % net, v.sub(iw, 'subnet'))
        excepts = ing.get('except') or []
        if not isinstance(excepts, list):
            excepts = [excepts]
        holes = []
        for k, exc in enumerate(excepts):
            ew = v.sub(iw, 'except') + ('[%d]' % k if len(excepts) > 1 else '')
            hole = v.network(exc, ew)
            if hole.version != net.version or not hole.subnet_of(net):
                raise ValidationError("%s is not inside subnet %s; an exception must be part of its subnet" % (hole, net), ew)
            holes.append(hole)
        entries.append({'subnet': net, 'except': holes})
    return {'name': name, 'protocol': proto, 'ports': ports, 'ingress': entries, 'allowed': _allowed(entries)}


# ---------------------------------------------------------------- compile: model -> canonical table

def _builtin(name, **fields):
    fields['comment'] = BUILTIN + name
    return fields


def compile_model(model):
    """The canonical table the model needs: {'chain': {...}, 'rules': [...]}, or None for state=absent."""
    if model['state'] == 'absent':
        return None
    block = model['default_action'] == 'block'
    chain = dict(CHAIN_SPEC, policy='drop' if block else 'accept')
    rules = [_builtin('loopback', iifname=['lo'], verdict='accept')]
    # Neighbour discovery is only valid from the link itself (hop limit 255, RFC 4861), so it is
    # accepted without the rate limit that could otherwise starve IPv6 on a busy node.
    nd = _builtin('nd', nfproto='ipv6', l4proto='ipv6-icmp', hoplimit=255, verdict='accept',
                  icmpv6_type=sorted(['nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit',
                                      'nd-neighbor-advert', 'nd-redirect']))
    if block:
        rules += [
            _builtin('established', ct_state=['established', 'related'], verdict='accept'),
            _builtin('invalid', ct_state=['invalid'], verdict='drop'),
            # CVE-1999-0524: no timestamp or address mask replies, as Talos.
            _builtin('icmp-info', l4proto='icmp', verdict='drop',
                     icmp_type=sorted(['timestamp-request', 'timestamp-reply', 'address-mask-request', 'address-mask-reply'])),
            nd,
            _builtin('icmp', l4proto='icmp', limit={'rate': ICMP_RATE, 'per': 'second'}, verdict='accept'),
            _builtin('icmpv6', l4proto='ipv6-icmp', limit={'rate': ICMP_RATE, 'per': 'second'}, verdict='accept'),
        ]
    elif any(r['protocol'] in ('icmp', 'icmpv6') for r in model['rules']):
        # An accept-mode icmp/icmpv6 rule drops ICMP from outside its subnets; neighbour discovery
        # (from link-local addresses) and the errors of existing connections (path MTU discovery)
        # must not be among what it drops.
        rules += [
            nd,
            _builtin('icmp-errors', ct_state=['related'], l4proto='icmp', verdict='accept'),
            _builtin('icmpv6-errors', ct_state=['related'], l4proto='ipv6-icmp', verdict='accept'),
        ]
    for rule in model['rules']:
        for fam in (4, 6):
            if (rule['protocol'] == 'icmp' and fam == 6) or (rule['protocol'] == 'icmpv6' and fam == 4):
                continue
            allowed = rule['allowed'][fam]
            whole = allowed == _cidrs(_WHOLE[fam], fam)
            r = {'comment': rule['name'], 'nfproto': _NFPROTO[fam], 'l4proto': L4PROTO[rule['protocol']]}
            if rule['ports']:
                r['dport'] = [list(p) for p in rule['ports']]
            if block:
                if not allowed:
                    continue
                if not whole:
                    r['saddr'] = {'op': '==', 'set': allowed}
                r['verdict'] = 'accept'
            else:
                if whole:
                    continue
                if allowed:
                    r['saddr'] = {'op': '!=', 'set': allowed}
                r['verdict'] = 'drop'
            rules.append(r)
    return {'chain': chain, 'rules': rules}


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


# ---------------------------------------------------------------- evaluate (the lock-out guard's model of the chain)

def _in_set(addr, cidrs):
    return any(addr in ipaddress.ip_network(c) for c in cidrs)


def _rule_matches(rule, pkt):
    for key in rule:
        if key in ('comment', 'verdict', 'limit'):
            continue
        if key == 'iifname':
            ok = pkt['iifname'] in rule['iifname']
        elif key == 'ct_state':
            ok = pkt['ct_state'] in rule['ct_state']
        elif key == 'nfproto':
            ok = _NFPROTO[pkt['src'].version] == rule['nfproto']
        elif key == 'l4proto':
            ok = pkt['l4proto'] == rule['l4proto']
        elif key == 'saddr':
            inside = _NFPROTO[pkt['src'].version] == rule['nfproto'] and _in_set(pkt['src'], rule['saddr']['set'])
            ok = inside if rule['saddr']['op'] == '==' else (not inside and _NFPROTO[pkt['src'].version] == rule['nfproto'])
        elif key == 'dport':
            ok = pkt.get('dport') is not None and any(lo <= pkt['dport'] <= hi for lo, hi in rule['dport'])
        else:   # ICMP types, hop limit, unknown expressions: not what a TCP/UDP packet carries
            ok = False
        if not ok:
            return False
    return True


def evaluate(table, src, l4proto='tcp', dport=None, iifname='eth0', ct_state='new'):
    """(verdict, why) the chain gives a packet: the first matching rule's verdict, else the policy.

    `why` is the rule's comment, or 'default action'. With no table everything is accepted.
    """
    if table is None:
        return 'accept', 'no table'
    pkt = {'src': ipaddress.ip_address(text_type(src)), 'l4proto': l4proto, 'dport': dport,
           'iifname': iifname, 'ct_state': ct_state}
    for rule in table['rules']:
        if 'verdict' in rule and _rule_matches(rule, pkt):
            return rule['verdict'], rule.get('comment') or 'unnamed rule'
    return ('drop' if (table.get('chain') or {}).get('policy') == 'drop' else 'accept'), 'default action'


def ssh_connection(environ=None):
    """{'client': ip, 'port': server port} of the SSH session Ansible runs in, or None.

    Read from SSH_CONNECTION (client addr, client port, server addr, server port) or SSH_CLIENT
    (client addr, client port, server port). With `environ` None: this process's environment,
    then its ancestors' (become/sudo usually drops these variables from the module's own).
    """
    envs = [environ] if environ is not None else _ancestor_envs()
    for env in envs:
        for var, idx in (('SSH_CONNECTION', 3), ('SSH_CLIENT', 2)):
            parts = (env.get(var) or '').split()
            if len(parts) > idx:
                try:
                    addr = ipaddress.ip_address(text_type(parts[0]).split('%')[0])
                    port = int(parts[idx])
                except ValueError:
                    continue
                if addr.version == 6 and addr.ipv4_mapped:
                    addr = addr.ipv4_mapped
                return {'client': str(addr), 'port': port, 'variable': var}
    return None


def _ancestor_envs():
    envs = [dict(os.environ)]
    pid = os.getppid()
    for dummy in range(16):
        if pid <= 1:
            break
        try:
            with open('/proc/%d/environ' % pid, 'rb') as fh:
                raw = fh.read().decode('utf-8', 'replace')
            envs.append(dict(item.split('=', 1) for item in raw.split('\0') if '=' in item))
            with open('/proc/%d/status' % pid) as fh:
                pid = int([ln.split()[1] for ln in fh if ln.startswith('PPid:')][0])
        except (IOError, OSError, ValueError, IndexError):
            break
    return envs


def lockout(table, ssh):
    """A message when `table` would drop a new SSH connection like the one Ansible uses, else None."""
    if table is None or not ssh:
        return None
    src = ipaddress.ip_address(ssh['client'])
    if src.is_loopback:
        return None
    verdict, why = evaluate(table, src, 'tcp', ssh['port'])
    if verdict == 'accept':
        return None
    if why == 'default action':
        reason = "the default action is block and no rule accepts tcp port %d from %s" % (ssh['port'], src)
    else:
        reason = "rule '%s' drops tcp port %d from %s" % (why, ssh['port'], src)
    return ("this policy would lock Ansible out: it connects over SSH from %s to port %d (%s) and %s. "
            "Add a rule accepting tcp port %d from that address, or set allow_lockout: true if that is intended"
            % (src, ssh['port'], ssh['variable'], reason, ssh['port']))


# ---------------------------------------------------------------- the kernel side: nft

def _nft_binary():
    for d in ('/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin'):
        p = os.path.join(d, 'nft')
        if os.access(p, os.X_OK):
            return p
    raise NftMissing("the nft command (Debian/Ubuntu package 'nftables', RHEL 'nftables') is required on the node")


def module_runner(module):
    """A `run` for this file from an AnsibleModule: its run_command, stdin passed through unchanged."""
    return command_runner(module.run_command)


def command_runner(run_command):
    """A `run` for this file from a run_command-like function (argv, data=..., binary_data=...)."""
    def run(argv, data=None):
        return run_command(argv, data=data, binary_data=True)
    return run


def section_params(params):
    """The firewall options as converge_firewall takes them (absent with no rules: no rules)."""
    params = dict((k, params.get(k)) for k in OPTIONS)
    for k, spec in ARGSPEC.items():
        if params.get(k) is None and 'default' in spec:
            params[k] = spec['default']
    if params['state'] == 'absent' and not params['rules']:
        params.pop('rules')
    return params


def nft(args, netns, data, run):
    """Run nft inside `netns` with `run(argv, data) -> (rc, out, err)` (the module's run_command).

    This thread enters the namespace around the call, so the child process starts in it.
    """
    if run is None:
        raise NodenetError("internal error: the firewall engine needs run= (e.g. firewall.module_runner(module))")
    cmd = [_nft_binary()] + list(args)
    return in_netns(netns, lambda: run(cmd, data))


def _nft_error(err, what):
    text = ' '.join(line.strip() for line in err.strip().splitlines() if line.strip() and not line.strip().startswith('^'))
    if 'Operation not supported' in err or 'Protocol not supported' in err:
        return KernelError("%s: the kernel does not support nftables (EOPNOTSUPP): kernel module 'nf_tables' "
                           "(CONFIG_NF_TABLES, CONFIG_NF_TABLES_INET) is missing: %s" % (what, text), code=errno.EOPNOTSUPP)
    if 'Operation not permitted' in err:
        return KernelError("%s: permission denied (EPERM): CAP_NET_ADMIN (root) is needed" % what, code=errno.EPERM)
    return KernelError("%s: %s" % (what, text or 'nft failed'))


def read_tables(netns, run):
    """-> (listing of our table as parsed JSON or None, ['family name' of every other table])."""
    rc, out, err = nft(['-j', 'list', 'tables'], netns, None, run)
    if rc != 0:
        raise _nft_error(err, 'listing nftables tables')
    ours, others = False, []
    for obj in json.loads(out or '{}').get('nftables', []):
        t = obj.get('table')
        if not t:
            continue
        if t.get('family') == FAMILY and t.get('name') == TABLE:
            ours = True
        else:
            others.append('%s %s' % (t.get('family'), t.get('name')))
    if not ours:
        return None, others
    rc, out, err = nft(['-j', 'list', 'table', FAMILY, TABLE], netns, None, run)
    if rc != 0:
        raise _nft_error(err, 'reading table %s %s' % (FAMILY, TABLE))
    return json.loads(out), others


def gather_status(netns, run):
    """network_info's firewall record. Without nft or nf_tables it says why instead of failing."""
    check_netns(netns)
    try:
        listing, others = read_tables(netns, run)
    except KernelError as e:
        if e.code != errno.EOPNOTSUPP:
            raise
        return dict(status(None), error=str(e))
    except NftMissing as e:
        return dict(status(None), error=str(e))
    table, stats = parse_table(listing)
    return status(table, stats, others)


def _guarded_here(netns):
    """Is `netns` the namespace this process (and so, normally, sshd) runs in? Only there can SSH be cut."""
    if not netns:
        return True
    try:
        here = os.stat('/proc/self/ns/net')
        there = os.stat(netns_path(netns))
    except OSError:
        return True
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _diff(before, after):
    return {'before_header': 'table %s %s (%s)' % (FAMILY, TABLE, 'absent' if before is None else 'before'),
            'after_header': 'table %s %s (%s)' % (FAMILY, TABLE, 'absent' if after is None else 'after'),
            'before': format_table(before), 'after': format_table(after)}


def converge_firewall(params, netns=None, check_mode=False, diff_mode=False, run=None, environ=None,
                      _inject_failure=None):
    """Make the node's `inet nodenet` table match `params` (the firewall module's options).

    Returns {'changed', 'operations', 'firewall' (status), 'diff'?, 'warnings'}. Raises
    ValidationError (incl. LockoutError) before anything is touched, KernelError when nft
    rejects the batch (nothing changed: the transaction is atomic), ApplyError when the
    re-read does not match (the previous table was restored).
    `run(argv, data) -> (rc, stdout, stderr)` runs nft: the module's run_command (module_runner()).
    `environ` is where the SSH session is read from (default: this process and its parents).
    `_inject_failure` (tests only): 'batch' appends a command the kernel rejects to the
    transaction; 'verify' makes the re-read count as a mismatch.
    """
    model = normalize(params)
    check_netns(netns)
    listing, others = read_tables(netns, run)
    before, stats = parse_table(listing)
    after = compile_model(model)
    if not model['allow_lockout'] and _guarded_here(netns):
        why = lockout(after, ssh_connection(environ))
        if why:
            raise LockoutError(why, 'rules')
    changed = before != after
    action = 'delete' if after is None else ('create' if before is None else 'replace')
    result = {'changed': changed, 'operations': ['%s table %s %s' % (action, FAMILY, TABLE)] if changed else [],
              'warnings': []}
    if diff_mode:
        result['diff'] = [_diff(before, after)] if changed else []
    old_listing = listing
    if changed:
        batch = render_batch(after)
        if _inject_failure == 'batch':
            batch['nftables'].append({'add': {'rule': {'family': FAMILY, 'table': TABLE, 'chain': 'no-such-chain',
                                                       'expr': [{'accept': None}]}}})
        data = json.dumps(batch)
        if check_mode:
            rc, out, err = nft(['-c', '-j', '-f', '-'], netns, data, run)
            if rc != 0:
                raise _nft_error(err, 'the kernel rejected the ruleset (checked with nft -c; nothing was changed)')
        else:
            rc, out, err = nft(['-j', '-f', '-'], netns, data, run)
            if rc != 0:
                raise _nft_error(err, 'the kernel rejected the ruleset; nothing was changed (one atomic transaction)')
            listing, others = read_tables(netns, run)
            now, stats = parse_table(listing)
            if now != after or _inject_failure == 'verify':
                rc, out, err = nft(['-j', '-f', '-'], netns, json.dumps(restore_batch(old_listing)), run)
                raise ApplyError("table %s %s read back differently from what was applied; the previous table was %s"
                                 % (FAMILY, TABLE, 'restored' if rc == 0 else 'NOT restored: %s' % err.strip()),
                                 rolled_back=rc == 0, rollback_errors=[] if rc == 0 else [err.strip()])
            before = now
    result['firewall'] = status(before, stats, others)
    return result
