# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall model: options, validation and normalisation (Talos's NetworkDefaultActionConfig +
NetworkRuleConfig). Pure: ValidationError naming the field."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError, ValidationError

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
