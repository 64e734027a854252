# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Routes: unicast (with or without gateway), blackhole, unreachable, prohibit; IPv4 and IPv6."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import MissingReference, ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import (
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, link_index)

try:
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
except ImportError:  # pragma: no cover - netlink.open_netlink reports the missing library
    rtmsg = None

RTM_NEWROUTE = 24
RT_TABLE_COMPAT = 252

KIND = 'route'
RANK = 2
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
    state=dict(type='str', default='present', choices=['present', 'absent']),
)


def normalize(entry, where=''):
    v.reject_unknown(entry, OPTIONS, where)

    def f(name):
        return v.sub(where, name)

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
    if rec['type'] == 'unicast' and not gw and not entry.get('link') and rec['state'] == 'present':
        raise ValidationError("a unicast route needs a gateway, a link, or both", f('gateway'))
    rec['metric'] = v.integer(entry['metric'], f('metric'), 0, 0xFFFFFFFF) if entry.get('metric') is not None else DEFAULT_METRIC[fam]
    if entry.get('mtu') is not None:
        rec['mtu'] = v.mtu(entry['mtu'], f('mtu'))
    rec['table'] = v.table(entry.get('table'), f('table'))
    return rec


def key(rec):
    return '%s table %s metric %d' % (rec['destination'], v.table_name(rec['table']), rec['metric'])


def read(nl, state):
    out = {}
    for fam in (socket.AF_INET, socket.AF_INET6):
        for m in nl.get_routes(family=fam):
            if m['type'] not in TYPE_NAMES or m['flags'] & RTM_F_CLONED:
                continue
            v4 = fam == socket.AF_INET
            dst = m.get('dst') or ('0.0.0.0' if v4 else '::')
            metrics = m.get('metrics')
            mtu = metrics.get('RTAX_MTU') if metrics is not None else None
            oif = m.get('oif')
            gw = m.get('gateway')
            via = m.get('via')
            if not gw and via:
                gw = via.get('addr') if hasattr(via, 'get') else None
            rec = {
                'destination': '%s/%d' % (dst, m['dst_len']),
                'family': 'inet4' if v4 else 'inet6',
                'gateway': gw,
                'source': m.get('prefsrc'),
                'link': state.link_name(oif) if oif else None,
                'metric': m.get('priority') or 0,
                'mtu': mtu,
                'table': m.get('table') or m['table'],
                'type': TYPE_NAMES[m['type']],
                'scope': SCOPES.get(m['scope'], str(m['scope'])),
                'protocol': PROTOCOLS.get(m['proto'], str(m['proto'])),
            }
            if m.get('multipath'):
                rec['multipath'] = True
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


MANAGED = ('gateway', 'source', 'link', 'mtu', 'type')


def plan(records, state, ctx):
    observed = state.get(KIND)
    present = ctx.get('link_present', set(state.links()))
    absent = ctx.get('link_absent', set())
    ops, seen = [], {}
    for i, rec in enumerate(records):
        where = rec.get('_where', 'routes[%d]' % i if len(records) > 1 else '')
        k = key(rec)
        if k in seen:
            raise ValidationError("route %s is declared twice" % k, v.sub(where, 'destination'))
        seen[k] = True
        obs = observed.get(k)
        if rec['state'] == 'absent':
            if obs is not None and _matches_for_removal(rec, obs):
                ops.append(_op('delete', k, before=obs))
            continue
        if rec.get('link') and (rec['link'] not in present or rec['link'] in absent):
            raise MissingReference("link '%s' does not exist and is not declared" % rec['link'], v.sub(where, 'link'))
        want = _clean(rec)
        if obs is None:
            ops.append(_op('create', k, after=want))
            continue
        before, after = {}, {}
        for f in MANAGED:
            if f in ('gateway', 'type') or f in rec:
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


def _op(action, k, before=None, after=None, changes=None):
    op = {'kind': KIND, 'action': action, 'key': k, 'before': before, 'after': after}
    if changes:
        op['changes'] = changes
    return op


def _clean(rec):
    return dict((k, val) for k, val in rec.items()
                if k in ('destination', 'family', 'gateway', 'source', 'link', 'metric', 'mtu', 'table', 'type', 'scope', 'protocol')
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
    if rec.get('scope'):
        kw['scope'] = [n for n, name in SCOPES.items() if name == rec['scope']][0]
    elif kw['type'] == 'unicast' and not rec.get('gateway') and rec['family'] == 'inet4':
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
    """The create request as one message for netlink.batch() (None: apply it on its own)."""
    if op['action'] != 'create' or rtmsg is None:
        return None
    kw = _args(nl, op['after'])
    m = rtmsg()
    m['family'] = kw['family']
    dst, plen = kw['dst'].split('/')
    m['dst_len'] = int(plen)
    m['table'] = kw['table'] if kw['table'] < 256 else RT_TABLE_COMPAT
    m['proto'] = kw['proto']
    m['scope'] = kw.get('scope', 0)
    m['type'] = TYPES[kw['type']]
    attrs = [('RTA_TABLE', kw['table']), ('RTA_PRIORITY', kw['priority'])]
    if int(plen):
        attrs.append(('RTA_DST', dst))
    for key, nla in (('gateway', 'RTA_GATEWAY'), ('prefsrc', 'RTA_PREFSRC'), ('oif', 'RTA_OIF')):
        if kw.get(key) is not None:
            attrs.append((nla, kw[key]))
    if kw.get('metrics'):
        attrs.append(('RTA_METRICS', {'attrs': [('RTAX_MTU', kw['metrics']['mtu'])]}))
    m['attrs'] = attrs
    m['header']['type'] = RTM_NEWROUTE
    m['header']['flags'] = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    return m


def inverse(op):
    if op['action'] == 'create':
        return _op('delete', op['key'], before=op['after'])
    if op['action'] == 'delete':
        return _op('create', op['key'], after=_clean(op['before']))
    return _op('modify', op['key'], before=op['after'], after=op['before'])


def satisfied(op, state):
    obs = state.get(KIND).get(op['key'])
    if op['action'] == 'delete':
        return obs is None, None
    if obs is None:
        return False, "route %s is missing" % op['key']
    for f in MANAGED:
        if f in op['after'] or f == 'gateway':
            if obs.get(f) != op['after'].get(f):
                return False, "route %s has %s=%s, expected %s" % (op['key'], f, obs.get(f), op['after'].get(f))
    return True, None
