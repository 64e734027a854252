# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bridges: ports with their own cost, priority and VLANs; STP; VLAN filtering.
Only the attributes the user sets are sent to the kernel."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import KernelError, ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import netdev

KIND = 'bridge'
SECTION = 'bridges'
RANK = 0
LINK = True
FEATURE = ('bridge', 'CONFIG_BRIDGE')
INFO = None

# STP timers are seconds here and centiseconds (USER_HZ) on the netlink wire.
STP_FIELDS = {
    'forward_delay': ('IFLA_BR_FORWARD_DELAY', 2, 30),
    'hello_time': ('IFLA_BR_HELLO_TIME', 1, 10),
    'max_age': ('IFLA_BR_MAX_AGE', 6, 40),
}
BRIDGE_FIELDS = ('stp', 'forward_delay', 'hello_time', 'max_age', 'priority', 'vlan_filtering', 'default_pvid')
PVID, UNTAGGED = 0x2, 0x4

_op = base.maker(KIND)
OPTIONS = netdev.options(
    links=dict(type='list', elements='raw'),
    stp=dict(type='dict', options=dict(
        enabled=dict(type='bool'),
        forward_delay=dict(type='int'),
        hello_time=dict(type='int'),
        max_age=dict(type='int'),
        priority=dict(type='int'),
    )),
    vlan_filtering=dict(type='bool'),
    default_pvid=dict(type='int'),
)
PORT_OPTIONS = ('name', 'cost', 'priority', 'vlans')
VLAN_OPTIONS = ('vid', 'pvid', 'untagged')


# ---------------------------------------------------------------- validate
def normalize(entry, where=''):
    rec, f = netdev.normalize_common(entry, where, OPTIONS)
    stp = entry.get('stp')
    if stp is not None:
        if not isinstance(stp, dict):
            raise ValidationError("must be a dictionary with enabled, forward_delay, hello_time, max_age, priority", f('stp'))
        v.reject_unknown(dict((k, x) for k, x in stp.items() if x is not None),
                         ('enabled', 'forward_delay', 'hello_time', 'max_age', 'priority'), f('stp'))
        if stp.get('enabled') is not None:
            rec['stp'] = bool(stp['enabled'])
        for k, (attr, lo, hi) in STP_FIELDS.items():
            if stp.get(k) is not None:
                rec[k] = v.integer(stp[k], '%s.%s' % (f('stp'), k), lo, hi)
        if stp.get('priority') is not None:
            rec['priority'] = v.integer(stp['priority'], '%s.priority' % f('stp'), 0, 65535)
        if all(k in rec for k in ('forward_delay', 'max_age', 'hello_time')):
            # IEEE 802.1D: 2 * (forward_delay - 1) >= max_age >= 2 * (hello_time + 1)
            if not 2 * (rec['forward_delay'] - 1) >= rec['max_age'] >= 2 * (rec['hello_time'] + 1):
                raise ValidationError("STP timers must satisfy 2*(forward_delay-1) >= max_age >= 2*(hello_time+1) (IEEE 802.1D)",
                                      f('stp'))
    if entry.get('vlan_filtering') is not None:
        rec['vlan_filtering'] = bool(entry['vlan_filtering'])
    if entry.get('default_pvid') is not None:
        rec['default_pvid'] = v.integer(entry['default_pvid'], f('default_pvid'), 0, 4094)
    if entry.get('links') is not None:
        rec['links'], ports = [], {}
        for i, item in enumerate(entry['links']):
            name, opts = _port(item, '%s[%d]' % (f('links'), i), rec)
            if name in rec['links']:
                raise ValidationError("port '%s' is listed twice" % name, '%s[%d]' % (f('links'), i))
            rec['links'].append(name)
            if opts:
                ports[name] = opts
        if ports:
            rec['ports'] = ports
    netdev.check_absent(rec, f)
    return rec


def _port(item, field, rec):
    """A port: a link name, or {name, cost, priority, vlans}."""
    if not isinstance(item, dict):
        name = v.ifname(item, field)
        opts = {}
    else:
        v.reject_unknown(item, PORT_OPTIONS, field)
        name = v.ifname(item.get('name'), field + '.name')
        opts = {}
        if item.get('cost') is not None:
            opts['cost'] = v.integer(item['cost'], field + '.cost', 1, 65535)
        if item.get('priority') is not None:
            opts['priority'] = v.integer(item['priority'], field + '.priority', 0, 63)
        if item.get('vlans') is not None:
            opts['vlans'] = _vlans(item['vlans'], field + '.vlans', rec)
    if name == rec['name']:
        raise ValidationError("a bridge can't be its own port", field)
    return name, opts


def _vlans(items, field, rec):
    if rec.get('vlan_filtering') is not True:
        raise ValidationError("per-port VLANs take effect only on a bridge with vlan_filtering: true; set it", field)
    out, pvids = {}, []
    for j, item in enumerate(items or []):
        ff = '%s[%d]' % (field, j)
        if not isinstance(item, dict):
            item = {'vid': item}
        v.reject_unknown(item, VLAN_OPTIONS, ff)
        vid = v.integer(item.get('vid'), ff + '.vid', 1, 4094)
        if vid in out:
            raise ValidationError("VLAN %d is listed twice" % vid, ff + '.vid')
        out[vid] = {'pvid': bool(item.get('pvid')), 'untagged': bool(item.get('untagged'))}
        if out[vid]['pvid']:
            pvids.append(vid)
    if len(pvids) > 1:
        raise ValidationError("a port has one PVID; %s are all marked pvid" % ', '.join(str(p) for p in pvids), field)
    return [dict(vid=vid, **out[vid]) for vid in sorted(out)]


def key(rec):
    return rec['name']


# ---------------------------------------------------------------- observe
def details(data, names, m):
    if data is None:
        return {}

    def attr(name):
        return data.get_attr('IFLA_BR_' + name)

    out = {'stp': bool(attr('STP_STATE')) if attr('STP_STATE') is not None else None,
           'priority': attr('PRIORITY'),
           'vlan_filtering': bool(attr('VLAN_FILTERING')) if attr('VLAN_FILTERING') is not None else None,
           'default_pvid': attr('VLAN_DEFAULT_PVID')}
    for k, (a, lo, hi) in STP_FIELDS.items():
        val = data.get_attr(a)
        out[k] = int(round(val / 100.0)) if val is not None else None
    return out


def port_details(slave_data):
    """bridge_port of a LinkStatus record: the port's STP cost, priority and state."""
    if slave_data is None:
        return None
    states = ('disabled', 'listening', 'learning', 'forwarding', 'blocking')
    st = slave_data.get_attr('IFLA_BRPORT_STATE')
    return {'cost': slave_data.get_attr('IFLA_BRPORT_COST'),
            'priority': slave_data.get_attr('IFLA_BRPORT_PRIORITY'),
            'stp_state': states[st] if st is not None and st < len(states) else st}


def port_vlans(nl):
    """{ifindex: [{vid, pvid, untagged}]} for every bridge port (one AF_BRIDGE dump)."""
    out = {}
    for m in nl.get_vlans():
        spec = m.get_attr('IFLA_AF_SPEC')
        if spec is None or not m.get_attr('IFLA_MASTER') or m.get_attr('IFLA_MASTER') == m['index']:
            continue
        vl = []
        for name, info in spec['attrs']:
            if name == 'IFLA_BRIDGE_VLAN_INFO':
                vl.append({'vid': info['vid'], 'pvid': bool(info['flags'] & PVID), 'untagged': bool(info['flags'] & UNTAGGED)})
        out[m['index']] = sorted(vl, key=lambda x: x['vid'])
    return out


read = netdev.reader(KIND)


# ---------------------------------------------------------------- plan
declare = netdev.declarer(KIND, lambda rec: rec.get('links') or ())


def _observed_ports(state, name):
    """{port: {cost, priority, vlans}} of the bridge's ports now."""
    out = {}
    for p in netdev.ports_of(state, name):
        bp = state.links()[p].get('bridge_port') or {}
        out[p] = {'cost': bp.get('cost'), 'priority': bp.get('priority'), 'vlans': bp.get('vlans') or []}
    return out


def plan(records, state, ctx):
    def present(rec, obs, where, f):
        netdev.check_ports(ctx, state, rec, f)
        if obs is None:
            return netdev.create_op(KIND, rec, state)
        return _changes(rec, obs, where, state)

    return netdev.plan_each(records, state, KIND, 'bridge', lambda obs: _recreatable(obs, state), present)


def _changes(rec, obs, where, state):
    before, after = netdev.common_changes(rec, obs, where)
    for k in BRIDGE_FIELDS:
        if k in rec and rec[k] != obs.get(k):
            before[k], after[k] = obs.get(k), rec[k]
    if 'links' in rec:
        now = _observed_ports(state, rec['name'])
        if set(now) != set(rec['links']):
            before['links'], after['links'] = list(now), rec['links']
            before['_ports_up'] = netdev.ports_up(state, [p for p in rec['links'] if p not in now])
        pb, pa = {}, {}
        for port, want in (rec.get('ports') or {}).items():
            have = now.get(port) or {}
            diff = dict((k, val) for k, val in want.items() if have.get(k) != val)
            if diff:
                pb[port] = dict((k, have.get(k)) for k in diff)
                pa[port] = diff
        if pa:
            before['ports'], after['ports'] = pb, pa
    return _op('modify', rec['name'], before=before, after=after) if after else None


def _recreatable(obs, state):
    rec = {'name': obs['name']}
    for k in BRIDGE_FIELDS + ('up', 'mtu', 'hardware_addr'):
        if obs.get(k) is not None:
            rec[k] = obs[k]
    ports = _observed_ports(state, obs['name'])
    rec['links'] = list(ports)
    rec['ports'] = dict((p, dict((k, val) for k, val in o.items() if val not in (None, []))) for p, o in ports.items())
    rec['_ports_up'] = netdev.ports_up(state, rec['links'])
    return rec


# ---------------------------------------------------------------- apply
def _bridge_kw(fields):
    kw = {}
    if 'stp' in fields and fields['stp'] is not None:
        kw['br_stp_state'] = 1 if fields['stp'] else 0
    for k, (attr, lo, hi) in STP_FIELDS.items():
        if fields.get(k) is not None:
            kw[attr[5:].lower()] = fields[k] * 100      # IFLA_BR_FORWARD_DELAY -> br_forward_delay
    if fields.get('priority') is not None:
        kw['br_priority'] = fields['priority']
    if fields.get('vlan_filtering') is not None:
        kw['br_vlan_filtering'] = 1 if fields['vlan_filtering'] else 0
    if fields.get('default_pvid') is not None:
        kw['br_vlan_default_pvid'] = fields['default_pvid']
    return kw


def _set_port(nl, port, want, have=None):
    have = have or {}
    idx = netdev.index(nl, port)
    kw = dict((k, want[k]) for k in ('cost', 'priority') if want.get(k) is not None)
    if kw:
        nl.brport('set', index=idx, **kw)
    if 'vlans' in want:
        now = dict((x['vid'], x) for x in (have.get('vlans') if 'vlans' in have else _vlans_now(nl, idx)))
        new = dict((x['vid'], x) for x in want['vlans'] or [])
        for vid in sorted(now):
            if vid not in new:
                nl.vlan_filter('del', index=idx, vlan_info={'vid': vid})
        for vid, x in sorted(new.items()):
            if now.get(vid) != x:
                flags = (PVID if x['pvid'] else 0) | (UNTAGGED if x['untagged'] else 0)
                nl.vlan_filter('add', index=idx, vlan_info={'vid': vid, 'flags': flags})


def _vlans_now(nl, idx):
    return port_vlans(nl).get(idx, [])


def apply(nl, op):
    name = op['key']
    try:
        netdev.apply_link(nl, op, _create, _modify)
    except Exception as e:  # noqa: BLE001
        what = "%s bridge '%s'" % (op['action'], name)
        wants_vlans = (op['after'] or {}).get('vlan_filtering') or any('vlans' in p for p in ((op['after'] or {}).get('ports') or {}).values())
        if getattr(e, 'code', None) == errno.EOPNOTSUPP and wants_vlans:
            raise KernelError("%s: the kernel does not support VLAN filtering on bridges (CONFIG_BRIDGE_VLAN_FILTERING)" % what)
        raise explain(e, what, kind=KIND, feature=FEATURE)


def _create(nl, rec):
    nl.link('add', ifname=rec['name'], kind='bridge', **_bridge_kw(rec))
    try:
        netdev.set_fields(nl, rec['name'], dict((k, rec[k]) for k in ('mtu', 'hardware_addr') if k in rec))
        for port in rec.get('links') or ():
            netdev.enslave(nl, port, rec['name'])
            if port in (rec.get('ports') or {}):
                _set_port(nl, port, rec['ports'][port])
        if 'up' in rec:
            netdev.set_up(nl, rec['name'], rec['up'])
    except Exception:
        nl.link('del', index=netdev.index(nl, rec['name']))
        netdev.restore_up(nl, rec.get('_ports_up'))
        raise


def _modify(nl, name, before, after):
    kw = _bridge_kw(after)
    if kw:
        nl.link('set', index=netdev.index(nl, name), kind='bridge', **kw)
    if 'links' in after:
        netdev.move_ports(nl, name, before, after)
    for port, want in sorted((after.get('ports') or {}).items()):
        _set_port(nl, port, want, (before.get('ports') or {}).get(port))
    netdev.set_fields(nl, name, dict((k, after[k]) for k in ('mtu', 'hardware_addr', 'up') if k in after))


def inverse(op):
    return base.swap(op)


# ---------------------------------------------------------------- verify
def satisfied(op, state):
    ports = _observed_ports(state, op['key'])

    def observed(k, obs, want):
        if k == 'links':
            return sorted(ports), sorted(want)
        if k == 'ports':   # only the port fields the operation set
            return dict((p, dict((f, (ports.get(p) or {}).get(f)) for f in fields)) for p, fields in want.items()), want
        return obs.get(k), want

    return netdev.satisfied(op, state, 'bridge', observed)
