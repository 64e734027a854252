# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Routes: unicast (with or without gateway), blackhole, unreachable, prohibit; IPv4 and IPv6."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import dhcp
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import (
    RTM_GETROUTE, attrs, dump, ip_text, u32,
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, Request, link_index, nla)

RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RT_TABLE_COMPAT = 252

KIND = 'route'
SECTION = 'routes'
RANK = 2
LINK = False
FEATURE = None
INFO = 'routes'
TYPES = {'unicast': 1, 'blackhole': 6, 'unreachable': 7, 'prohibit': 8}
TYPE_NAMES = dict((n, t) for t, n in TYPES.items())
# Who made a route (RTM_PROTOCOL), named as iproute2's rt_protos names them; others are shown as numbers.
PROTOCOLS = {0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 8: 'gated', 9: 'ra', 10: 'mrt', 11: 'zebra',
             12: 'bird', 13: 'dnrouted', 14: 'xorp', 15: 'ntk', 16: 'dhcp', 18: 'keepalived', 42: 'babel', 99: 'openr',
             186: 'bgp', 187: 'isis', 188: 'ospf', 189: 'rip', 192: 'eigrp'}
PROTOCOL_NUMBERS = dict((name, n) for n, name in PROTOCOLS.items())
SCOPES = {0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere'}
DEFAULT_METRIC = {4: 0, 6: 1024}
RTM_F_CLONED = 0x200
PROTO_STATIC = 4

OPTIONS = dict(
    destination=dict(type='str', required=True),
    gateway=dict(type='str'),
    source=dict(type='str'),
    link=dict(type='str'),
    metric=dict(type='int'),
    mtu=dict(type='int'),
    table=dict(type='raw'),
    type=dict(type='str', default='unicast', choices=list(TYPES)),
    nexthops=dict(type='list', elements='dict', options=dict(
        gateway=dict(type='str'), link=dict(type='str'), weight=dict(type='int', default=1))),
    state=dict(type='str', default='present', choices=['present', 'absent']),
)
NEXTHOP_OPTIONS = OPTIONS['nexthops']['options']

_op = base.maker(KIND)


def normalize(entry, where=''):
    f = v.fields(entry, OPTIONS, where)

    rec = {'state': v.choice(entry.get('state') or 'present', f('state'), ('present', 'absent')),
           'type': v.choice(entry.get('type') or 'unicast', f('type'), TYPES)}
    fam = None
    gw = src = None
    if entry.get('gateway'):
        gw = v.ip(entry['gateway'], f('gateway'))
        fam = gw.version
    if entry.get('source'):
        src = v.ip(entry['source'], f('source'), fam)
        fam = src.version
    if entry.get('nexthops') is not None:
        fam = _nexthops(entry, rec, fam, f)
    dst = entry.get('destination')
    if dst is None or str(dst).strip() == '':
        raise ValidationError("a destination is required: a prefix in CIDR form or 'default'", f('destination'))
    if str(dst).strip() == 'default':
        fam = fam or 4
        net = v.network('0.0.0.0/0' if fam == 4 else '::/0', f('destination'))
    else:
        net = v.network(dst, f('destination'))
        if fam and net.version != fam:
            raise ValidationError("destination %s is IPv%d but the gateway/source is IPv%d" % (dst, net.version, fam), f('destination'))
        fam = net.version
    rec['destination'] = str(net)
    rec['family'] = 'inet%d' % fam
    if rec['type'] != 'unicast':
        for opt in ('gateway', 'link'):
            if entry.get(opt):
                raise ValidationError("a %s route sends nothing anywhere, so it takes no %s" % (rec['type'], opt), f(opt))
    rec['gateway'] = str(gw) if gw else None
    if src:
        rec['source'] = str(src)
    if entry.get('link'):
        rec['link'] = v.ifname(entry['link'], f('link'))
    if rec['type'] == 'unicast' and not gw and not entry.get('link') and not rec.get('nexthops') and rec['state'] == 'present':
        raise ValidationError("a unicast route needs a gateway, a link, or both", f('gateway'))
    rec['metric'] = v.integer(entry['metric'], f('metric'), 0, 0xFFFFFFFF) if entry.get('metric') is not None else DEFAULT_METRIC[fam]
    if entry.get('mtu') is not None:
        rec['mtu'] = v.mtu(entry['mtu'], f('mtu'))
    rec['table'] = v.table(entry.get('table'), f('table'))
    return rec


def _nexthops(entry, rec, fam, f):
    """A multipath (ECMP) route's `nexthops`: [{gateway, link, weight}] in a canonical order (the kernel
    treats them as a set); returns the route's family."""
    hops = entry['nexthops']
    if rec['type'] != 'unicast':
        raise ValidationError("a %s route sends nothing anywhere, so it takes no nexthops" % rec['type'], f('nexthops'))
    for opt in ('gateway', 'link'):
        if entry.get(opt):
            raise ValidationError("give the gateways and links of a multipath route in nexthops, not %s" % opt, f(opt))
    if not isinstance(hops, list) or len(hops) < 2:
        raise ValidationError("a multipath route needs at least two nexthops (a single path is gateway and link)",
                              f('nexthops'))
    out, seen = [], set()
    for i, hop in enumerate(hops):
        where = '%s[%d]' % (f('nexthops'), i)
        if not isinstance(hop, dict):
            raise ValidationError("must be a mapping with gateway, link and weight", where)
        hop = dict((k, val) for k, val in hop.items() if val is not None)
        v.reject_unknown(hop, NEXTHOP_OPTIONS, where)
        nh = {'gateway': None, 'link': None, 'weight': v.integer(hop.get('weight', 1), v.sub(where, 'weight'), 1, 256)}
        if hop.get('gateway'):
            gw = v.ip(hop['gateway'], v.sub(where, 'gateway'), fam)
            fam = gw.version
            nh['gateway'] = str(gw)
        if hop.get('link'):
            nh['link'] = v.ifname(hop['link'], v.sub(where, 'link'))
        if not nh['gateway'] and not nh['link']:
            raise ValidationError("a nexthop needs a gateway, a link, or both", v.sub(where, 'gateway'))
        if (nh['gateway'], nh['link']) in seen:
            raise ValidationError("nexthop %s is given twice" % (nh['gateway'] or nh['link']), where)
        seen.add((nh['gateway'], nh['link']))
        out.append(nh)
    rec['nexthops'] = sort_nexthops(out)
    return fam


def sort_nexthops(hops):
    return sorted(hops, key=lambda h: (h.get('gateway') or '', h.get('link') or '', h['weight']))


def key(rec):
    return '%s table %s metric %d' % (rec['destination'], v.table_name(rec['table']), rec['metric'])


RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_METRICS, RTA_MULTIPATH, RTA_TABLE, RTA_VIA = 1, 4, 5, 6, 7, 8, 9, 15, 18
RTAX_MTU = 2
RTMSG = struct.Struct('=BBBBBBBBI')     # family, dst_len, src_len, tos, table, protocol, scope, type, flags


def read(nl, state, tables=None):
    """RouteStatus records keyed like the planner keys routes; tables: only these (kernel-side filter
    where the kernel has strict checking, one dump per table), None: every table."""
    out = {}
    for fam in (socket.AF_INET, socket.AF_INET6):
        for table in sorted(tables) if tables else (None,):
            req = RTMSG.pack(fam, 0, 0, 0, table if table is not None and table < 256 else 0, 0, 0, 0, 0)
            if table is not None and table >= 256:
                req += struct.pack('=HHI', 8, RTA_TABLE, table)
            for body in dump(nl, RTM_GETROUTE, req, strict=table is not None):
                rec = _record(body, fam, state)
                if rec is not None and (table is None or rec['table'] == table):
                    out.setdefault(key(rec), []).append(rec)
    return _unique(out)


def _unique(by_key):
    """{key: [records]} -> {key: record}. The kernel may hold several routes with one destination, table
    and metric on different links (IPv6 does for every link: fe80::/64, ff00::/8). The one on the first
    link by name keeps the plain key, the others get ' dev <link>' added: every route is seen, and which
    one is which does not depend on the order the kernel dumps them in (the order links came up)."""
    out = {}
    for k, recs in by_key.items():
        recs.sort(key=lambda r: (r.get('link') or '', r.get('gateway') or '', r['type'], r['protocol']))
        out[k] = recs[0]
        for i, rec in enumerate(recs[1:]):
            extra = '%s dev %s' % (k, rec.get('link') or '-')
            out[extra if extra not in out else '%s #%d' % (extra, i + 1)] = rec
    return out


def read_some(ops):
    """read(nl, state) of only the tables these operations name (for verify)."""
    tables = set((op['after'] or op['before'])['table'] for op in ops)
    return lambda nl, state: read(nl, state, tables=tables)


def _record(body, fam, state):
    family, dst_len, dummy, dummy, htable, proto, scope, rtype, flags = RTMSG.unpack_from(body)
    if family != fam or rtype not in TYPE_NAMES or flags & RTM_F_CLONED:
        return None
    a = attrs(body, RTMSG.size)
    v4 = fam == socket.AF_INET
    dst = ip_text(fam, a[RTA_DST]) if RTA_DST in a else ('0.0.0.0' if v4 else '::')
    mtu = None
    if RTA_METRICS in a:
        raw = attrs(a[RTA_METRICS], 0).get(RTAX_MTU)
        mtu = u32(raw) if raw else None
    oif = u32(a[RTA_OIF]) if RTA_OIF in a else None
    gw = ip_text(fam, a[RTA_GATEWAY]) if RTA_GATEWAY in a else None
    if not gw and RTA_VIA in a:
        via_fam = struct.unpack_from('=H', a[RTA_VIA])[0]
        gw = ip_text(via_fam, a[RTA_VIA][2:]) if via_fam in (socket.AF_INET, socket.AF_INET6) else None
    rec = {
        'destination': '%s/%d' % (dst, dst_len),
        'family': 'inet4' if v4 else 'inet6',
        'gateway': gw,
        'source': ip_text(fam, a[RTA_PREFSRC]) if RTA_PREFSRC in a else None,
        'link': state.link_name(oif) if oif else None,
        'metric': u32(a[RTA_PRIORITY]) if RTA_PRIORITY in a else 0,
        'mtu': mtu,
        'table': u32(a[RTA_TABLE]) if RTA_TABLE in a else htable,
        'type': TYPE_NAMES[rtype],
        'scope': SCOPES.get(scope, str(scope)),
        'protocol': PROTOCOLS.get(proto, str(proto)),
    }
    if RTA_MULTIPATH in a:
        rec['nexthops'] = _read_nexthops(a[RTA_MULTIPATH], fam, state)
    return rec


RTNH = struct.Struct('=HBBi')       # struct rtnexthop: len, flags, hops (weight - 1), ifindex


def _read_nexthops(data, fam, state):
    out, off = [], 0
    while off + RTNH.size <= len(data):
        length, dummy, hops, ifindex = RTNH.unpack_from(data, off)
        if length < RTNH.size:
            break
        a = attrs(data[off:off + length], RTNH.size)
        gw = ip_text(fam, a[RTA_GATEWAY]) if RTA_GATEWAY in a else None
        if not gw and RTA_VIA in a:
            via_fam = struct.unpack_from('=H', a[RTA_VIA])[0]
            gw = ip_text(via_fam, a[RTA_VIA][2:]) if via_fam in (socket.AF_INET, socket.AF_INET6) else None
        out.append({'gateway': gw, 'link': state.link_name(ifindex) if ifindex else None, 'weight': hops + 1})
        off += (length + 3) & ~3
    return sort_nexthops(out)


MANAGED = ('gateway', 'source', 'link', 'mtu', 'type', 'nexthops')


def plan(records, state, ctx):
    observed = state.get(KIND)
    present, absent = base.links_in(ctx, state)
    ops = []
    for where, k, rec in base.keyed(records, SECTION, key, lambda rec, k: ("route %s is declared twice" % k, 'destination')):
        obs = observed.get(k)
        if rec['state'] == 'absent':
            if obs is not None and _matches_for_removal(rec, obs):
                ops.append(_op('delete', k, before=obs))
            continue
        if rec.get('link'):
            base.need_link(rec['link'], v.sub(where, 'link'), present, absent)
        for j, hop in enumerate(rec.get('nexthops') or []):
            if hop['link']:
                base.need_link(hop['link'], '%s[%d].link' % (v.sub(where, 'nexthops'), j), present, absent)
        want = _clean(rec)
        if obs is None:
            ops.append(_op('create', k, after=want))
            continue
        before, after = {}, {}
        for f in MANAGED:
            if f in ('gateway', 'type', 'nexthops') or f in rec:
                if rec.get(f) != obs.get(f):
                    before[f], after[f] = obs.get(f), rec.get(f)
        if after:
            ops.append(_op('modify', k, before=_clean(obs), after=want, changes=sorted(after)))
    return ops


def _matches_for_removal(rec, obs):
    """An absent entry removes the route at its key, unless it names a different gateway/link."""
    for f in ('gateway', 'link'):
        if rec.get(f) and obs.get(f) != rec[f]:
            return False
    return True


# `purge` choices. Route protocols (RTM_PROTOCOL) of routes an administrator or this collection made:
# `purge: [routes]` removes these. Routes other programs made (routing daemons, DHCP clients, keepalived:
# every other protocol) are theirs to manage, as Talos manages only its own: `purge: [daemon_routes]`
# removes them too. The kernel's own routes (kernel, ra) are never purged: they come back with their addresses.
PURGE = ('routes', 'daemon_routes')
OWN_ROUTE_PROTOCOLS = ('unspec', 'boot', 'static')
KERNEL_ROUTE_PROTOCOLS = ('kernel', 'ra')


def purge(records, state, links, planned, chosen):
    """Removals for `purge`: routes through managed links that no entry declares and whose protocol
    the chosen choices cover; never the local table's or multipath routes."""
    declared = set(key(r) for r in records.get(KIND, []))
    out = []
    for k, obs in sorted(state.get(KIND).items()):
        own = obs['protocol'] in OWN_ROUTE_PROTOCOLS
        if obs.get('link') in links and k not in declared and (KIND, k) not in planned \
                and obs['protocol'] not in KERNEL_ROUTE_PROTOCOLS and obs['table'] != 255 and not obs.get('nexthops') \
                and ('routes' if own else 'daemon_routes') in chosen \
                and not (obs['protocol'] == 'dhcp' and dhcp.operator_of(state, obs.get('link'), obs['family'])):
            out.append(_op('delete', k, before=obs))
    return out


def _clean(rec):
    return dict((k, val) for k, val in rec.items()
                if k in ('destination', 'family', 'gateway', 'source', 'link', 'metric', 'mtu', 'table', 'type', 'scope', 'protocol',
                         'nexthops')
                and val is not None)


def _args(nl, rec):
    kw = {'dst': rec['destination'], 'table': rec['table'], 'priority': rec['metric'],
          'type': rec.get('type', 'unicast'), 'proto': PROTO_STATIC,
          'family': socket.AF_INET if rec['family'] == 'inet4' else socket.AF_INET6}
    if rec.get('protocol') is not None:
        # the observed protocol: the kernel deletes a route only when the request's protocol matches its own
        kw['proto'] = protocol_number(rec['protocol'])
    if rec.get('gateway'):
        kw['gateway'] = rec['gateway']
    if rec.get('source'):
        kw['prefsrc'] = rec['source']
    if rec.get('link'):
        kw['oif'] = link_index(nl, rec['link'])
    if rec.get('mtu'):
        kw['metrics'] = {'mtu': rec['mtu']}
    if rec.get('nexthops'):
        kw['multipath'] = [dict([('hops', h['weight'] - 1)] + ([('gateway', h['gateway'])] if h['gateway'] else [])
                                + ([('oif', link_index(nl, h['link']))] if h['link'] else [])) for h in rec['nexthops']]
    if rec.get('scope'):
        kw['scope'] = [n for n, name in SCOPES.items() if name == rec['scope']][0]
    elif kw['type'] == 'unicast' and not rec.get('gateway') and rec['family'] == 'inet4' \
            and not any(h['gateway'] for h in rec.get('nexthops') or ()):
        kw['scope'] = 253
    return kw


def protocol_number(name):
    """'bird' -> 12, '77' -> 77 (a protocol iproute2 has no name for)."""
    return PROTOCOL_NUMBERS[name] if name in PROTOCOL_NUMBERS else int(name)


def apply(nl, op):
    what = "%s route %s" % (op['action'], op['key'])
    try:
        if op['action'] == 'create':
            nl.route('add', **_args(nl, op['after']))
        elif op['action'] == 'delete':
            kw = _args(nl, op['before'])
            kw.pop('metrics', None)
            nl.route('del', **kw)
        else:
            nl.route('replace', **_args(nl, op['after']))
    except Exception as e:  # noqa: BLE001
        raise explain(e, what)


def message(nl, op):
    """A create or delete request as one message for netlink.batch() (None: apply it on its own)."""
    if op['action'] == 'modify' or (op['after'] or op['before']).get('nexthops'):
        return None
    kw = _args(nl, op['after'] if op['action'] == 'create' else op['before'])
    fam = kw['family']
    if kw.get('gateway') and (':' in kw['gateway']) != (fam == socket.AF_INET6):
        return None     # a gateway of the other family (RTA_VIA): pyroute2, on its own
    dst, plen = kw['dst'].split('/')
    body = RTMSG.pack(fam, int(plen), 0, 0, kw['table'] if kw['table'] < 256 else RT_TABLE_COMPAT, kw['proto'],
                      kw.get('scope', 0), TYPES[kw['type']], 0)
    body += nla(RTA_TABLE, struct.pack('=I', kw['table'])) + nla(RTA_PRIORITY, struct.pack('=I', kw['priority']))
    if int(plen):
        body += nla(RTA_DST, socket.inet_pton(fam, dst))
    for key, atype in (('gateway', RTA_GATEWAY), ('prefsrc', RTA_PREFSRC)):
        if kw.get(key) is not None:
            body += nla(atype, socket.inet_pton(fam, kw[key]))
    if kw.get('oif') is not None:
        body += nla(RTA_OIF, struct.pack('=I', kw['oif']))
    if kw.get('metrics') and op['action'] == 'create':
        body += nla(RTA_METRICS, nla(RTAX_MTU, struct.pack('=I', kw['metrics']['mtu'])))
    if op['action'] == 'create':
        return Request(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body)
    return Request(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, body)


inverse = base.inverter(KIND, _clean)


def _check(op, obs):
    for f in MANAGED:
        if f in op['after'] or f in ('gateway', 'nexthops'):
            if obs.get(f) != op['after'].get(f):
                return "route %s has %s=%s, expected %s" % (op['key'], f, obs.get(f), op['after'].get(f))
    return None


satisfied = base.presence(KIND, 'route', _check)
