# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""VLAN links (802.1Q, and 802.1ad for QinQ) on any link: NICs, bonds, bridges, other VLANs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import netdev

KIND = 'vlan'
SECTION = 'vlans'
RANK = 0
LINK = True
FEATURE = ('8021q', 'CONFIG_VLAN_8021Q')
INFO = None
PROTOCOLS = {'802.1q': 0x8100, '802.1ad': 0x88A8}
FIXED = ('parent', 'vlan_id', 'protocol')

_op = base.maker(KIND)
OPTIONS = netdev.options(
    parent=dict(type='str'),
    vlan_id=dict(type='int'),
    protocol=dict(type='str', choices=list(PROTOCOLS)),
)


def normalize(entry, where=''):
    rec, f = netdev.normalize_common(entry, where, OPTIONS)
    if entry.get('parent') is not None:
        rec['parent'] = v.ifname(entry['parent'], f('parent'))
        if rec['parent'] == rec['name']:
            raise ValidationError("a VLAN can't sit on itself", f('parent'))
    if entry.get('vlan_id') is not None:
        rec['vlan_id'] = v.integer(entry['vlan_id'], f('vlan_id'), 1, 4094)
    if entry.get('protocol') is not None:
        rec['protocol'] = v.choice(str(entry['protocol']).lower(), f('protocol'), tuple(PROTOCOLS))
    netdev.check_absent(rec, f)
    return rec


def key(rec):
    return rec['name']


def details(data, names, m):
    if data is None:
        return {}
    proto = data.get_attr('IFLA_VLAN_PROTOCOL')
    link = m.get('link')
    return {
        'vlan_id': data.get_attr('IFLA_VLAN_ID'),
        'protocol': dict((n, p) for p, n in PROTOCOLS.items()).get(proto, proto),
        'parent': None if m.get('link_netnsid') is not None else names.get(link),
    }


read = netdev.reader(KIND)


declare = netdev.declarer(KIND, lambda rec: [rec['parent']] if rec.get('parent') else [])


def plan(records, state, ctx):
    def present(rec, obs, where, f):
        name = rec['name']
        if obs is None:
            for k in ('parent', 'vlan_id'):
                if k not in rec:
                    raise ValidationError("a new VLAN needs %s" % ('the link it sits on' if k == 'parent' else 'its VLAN ID (1-4094)'), f(k))
        parent = rec.get('parent') or obs.get('parent')
        if parent:
            netdev.need_link(ctx, parent, f('parent'), "the parent of VLAN '%s'" % name)
            mtu = rec.get('mtu') or (obs or {}).get('mtu')
            pmtu = ctx['link_mtu'].get(parent)
            if mtu and pmtu and mtu > pmtu:
                raise ValidationError("VLAN '%s' MTU %d is larger than the MTU of its parent '%s' (%d)" % (name, mtu, parent, pmtu),
                                      f('mtu'))
        if obs is None:
            after = netdev.clean(rec)
            after.setdefault('protocol', '802.1q')
            return _op('create', name, after=after)
        for k in FIXED:
            if k in rec and obs.get(k) != rec[k]:
                raise ValidationError("VLAN '%s' has %s=%s; the kernel fixes it at creation, so changing it to %s needs the VLAN "
                                      "removed first (state: absent, then create it again)" % (name, k, obs.get(k), rec[k]), f(k))
        before, after = netdev.common_changes(rec, obs, where)
        return _op('modify', name, before=before, after=after) if after else None

    return netdev.plan_each(records, state, KIND, 'VLAN', _recreatable, present)


def _recreatable(obs):
    rec = dict((k, obs[k]) for k in ('name', 'parent', 'vlan_id', 'protocol', 'up', 'mtu', 'hardware_addr') if obs.get(k) is not None)
    return rec


def apply(nl, op):
    name = op['key']
    try:
        if op['action'] == 'create':
            rec = op['after']
            nl.link('add', ifname=name, kind='vlan', link=netdev.index(nl, rec['parent']), vlan_id=rec['vlan_id'],
                    vlan_protocol=PROTOCOLS[rec.get('protocol') or '802.1q'])
            try:
                netdev.set_fields(nl, name, dict((k, rec[k]) for k in ('mtu', 'hardware_addr', 'up') if k in rec))
            except Exception:
                nl.link('del', index=netdev.index(nl, name))
                raise
        elif op['action'] == 'modify':
            netdev.set_fields(nl, name, op['after'])
        elif op['action'] == 'delete':
            nl.link('del', index=netdev.index(nl, name))
    except Exception as e:  # noqa: BLE001
        raise explain(e, "%s VLAN '%s'" % (op['action'], name), kind=KIND, feature=FEATURE)


def inverse(op):
    return base.swap(op)


def satisfied(op, state):
    return netdev.satisfied(op, state, 'VLAN', lambda k, obs, want: (obs.get(k), want))
