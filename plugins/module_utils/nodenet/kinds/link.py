# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Links: veth, dummy, macvlan, vxlan, and common settings on any existing link."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import struct

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import MissingReference, ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import linkdump
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import netdev
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import nic
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import selector
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import dhcp
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import (
    IFINFOMSG, IFLA_IFNAME, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, Request, link_index, mac_bytes, nla, nla_text)

KIND = 'link'
SECTION = 'links'
RANK = 0
LINK = True
FEATURE = None
INFO = 'links'
CREATABLE = ('veth', 'dummy', 'macvlan', 'vxlan')
MACVLAN_MODES = ('private', 'vepa', 'bridge', 'passthru', 'source')
IFF_UP = 0x1
ARPHRD = {1: 'ether', 772: 'loopback', 776: 'sit', 768: 'ipip', 769: 'tunnel6', 778: 'gre',
          823: 'ip6gre', 65534: 'none', 32: 'infiniband'}
IFF_NAMES = [(0x1, 'UP'), (0x2, 'BROADCAST'), (0x8, 'LOOPBACK'), (0x10, 'POINTOPOINT'),
             (0x40, 'RUNNING'), (0x80, 'NOARP'), (0x100, 'PROMISC'), (0x400, 'MASTER'),
             (0x800, 'SLAVE'), (0x1000, 'MULTICAST'), (0x10000, 'LOWER_UP'), (0x20000, 'DORMANT')]

# Kernel feature behind each kind of link this file creates: (kernel module, Kconfig symbol).
FEATURES = {
    'dummy': ('dummy', 'CONFIG_DUMMY'),
    'veth': ('veth', 'CONFIG_VETH'),
    'macvlan': ('macvlan', 'CONFIG_MACVLAN'),
    'vxlan': ('vxlan', 'CONFIG_VXLAN'),
}

# Settings any link takes, changed in place.
MUTABLE = ('up', 'mtu', 'hardware_addr', 'txqueuelen', 'alias', 'macvlan_mode')
# Settings fixed when the link is created.
IMMUTABLE = ('peer', 'parent', 'vni', 'local', 'remote', 'group', 'port', 'learning')
# Which kind each kind-specific option belongs to.
OPTION_KINDS = {
    'peer': ('veth',), 'parent': ('macvlan', 'vxlan'), 'macvlan_mode': ('macvlan',),
    'vni': ('vxlan',), 'local': ('vxlan',), 'remote': ('vxlan',), 'group': ('vxlan',),
    'port': ('vxlan',), 'learning': ('vxlan',),
}

_op = base.maker(KIND)
OPTIONS = dict(
    name=dict(type='str'),
    selector=dict(type='dict', options=selector.OPTIONS),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    kind=dict(type='str', choices=list(CREATABLE)),
    up=dict(type='bool'),
    mtu=dict(type='int'),
    hardware_addr=dict(type='str'),
    txqueuelen=dict(type='int'),
    alias=dict(type='str'),
    peer=dict(type='str'),
    parent=dict(type='str'),
    macvlan_mode=dict(type='str', choices=list(MACVLAN_MODES)),
    vni=dict(type='int'),
    local=dict(type='str'),
    remote=dict(type='str'),
    group=dict(type='str'),
    port=dict(type='int'),
    learning=dict(type='bool'),
)
# Option combinations, in the argument spec (Ansible refuses them before the module runs; normalize()
# keeps the same rules for the network module's sections and callers without Ansible).
RULES = dict(mutually_exclusive=[('remote', 'group')], required_by={'group': ('parent',)})
OPTIONS.update(nic.OPTIONS)     # NIC tuning: channels, rings, features (kinds/nic.py)
OPTIONS.update(dhcp.LINK_OPTIONS)


# ---------------------------------------------------------------- validate
def normalize(entry, where=''):
    """Validate one desired link; return a record with only the fields set."""
    f = v.fields(entry, OPTIONS, where)

    rec = {'name': v.ifname(entry.get('name'), f('name')) if entry.get('name') is not None or not entry.get('selector') else None,
           'state': v.choice(entry.get('state') or 'present', f('state'), ('present', 'absent'))}
    kind = entry.get('kind')
    if entry.get('selector') is not None:
        _normalize_selector(entry, rec, f)
    if kind is not None:
        rec['kind'] = v.choice(kind, f('kind'), CREATABLE)
    for opt, kinds in OPTION_KINDS.items():
        if entry.get(opt) is not None and kind not in kinds:
            raise ValidationError("applies only to links of kind %s (this link's kind is %s)"
                                  % (' or '.join(kinds), "'%s'" % kind if kind else 'not set'), f(opt))
    netdev.common_fields(entry, rec, f)
    if entry.get('txqueuelen') is not None:
        rec['txqueuelen'] = v.integer(entry['txqueuelen'], f('txqueuelen'), 0, 0xFFFFFFF)
    if entry.get('alias') is not None:
        if len(entry['alias'].encode('utf-8')) > 255:
            raise ValidationError("is longer than 255 bytes (IFALIASZ)", f('alias'))
        rec['alias'] = entry['alias'] or None   # '' clears the alias; the kernel then reports none
    if kind == 'veth':
        if not entry.get('peer'):
            raise ValidationError("a veth link needs the name of its other end", f('peer'))
        rec['peer'] = v.ifname(entry['peer'], f('peer'))
        if rec['peer'] == rec['name']:
            raise ValidationError("must differ from the link's own name", f('peer'))
    if kind == 'macvlan':
        if not entry.get('parent'):
            raise ValidationError("a macvlan link needs the link it sits on", f('parent'))
        rec['parent'] = v.ifname(entry['parent'], f('parent'))
        rec['macvlan_mode'] = entry.get('macvlan_mode') or 'bridge'
        v.choice(rec['macvlan_mode'], f('macvlan_mode'), MACVLAN_MODES)
    if kind == 'vxlan':
        _normalize_vxlan(entry, rec, f)
    nic.normalize_link(entry, rec, f)
    if rec['state'] == 'absent':
        extra = [k for k in rec if k not in ('name', 'state', 'kind')]
        if extra:
            raise ValidationError("state=absent removes the link; do not also set %s" % ', '.join(sorted(extra)), f('state'))
    lease = dhcp.derive(entry, where)
    if lease is not None:   # planned by the dhcp kind, on this link once its name is known (a selector's)
        if rec['state'] == 'absent':
            raise ValidationError("state=absent removes the link; do not also set %s" % ', '.join(sorted(lease)), f('state'))
        rec['_derive'] = [('dhcp', dict(lease, _where=where, _link=rec))]
    return rec


def _normalize_selector(entry, rec, f):
    """selector picks an existing NIC (kinds/selector.py); `name`, if given, is the name it gets."""
    rec['selector'] = selector.normalize(entry['selector'], f('selector'))
    for opt, why in (('kind', 'a selector picks an existing link; it creates none'),
                     ('state', 'a selector picks an existing link; it removes none')):
        if entry.get(opt) is not None and not (opt == 'state' and entry[opt] == 'present'):
            raise ValidationError("can't be set with selector: %s" % why, f(opt))


def _normalize_vxlan(entry, rec, f):
    if entry.get('vni') is None:
        raise ValidationError("a vxlan link needs its VXLAN network identifier (1-16777215)", f('vni'))
    rec['vni'] = v.integer(entry['vni'], f('vni'), 1, 16777215)
    fam = None
    if entry.get('parent'):
        rec['parent'] = v.ifname(entry['parent'], f('parent'))
    for opt in ('local', 'remote', 'group'):
        if entry.get(opt) is not None:
            a = v.ip(entry[opt], f(opt), fam)
            fam = a.version
            rec[opt] = str(a)
    if 'remote' in rec and 'group' in rec:
        raise ValidationError("set either remote (unicast peer) or group (multicast group), not both", f('group'))
    if 'group' in rec:
        if not ipaddress.ip_address(rec['group']).is_multicast:
            raise ValidationError("'%s' is not a multicast address; use remote for a unicast peer" % rec['group'], f('group'))
        if 'parent' not in rec:
            raise ValidationError("a multicast group needs the link to send it on", f('parent'))
    if 'remote' in rec and ipaddress.ip_address(rec['remote']).is_multicast:
        raise ValidationError("'%s' is a multicast address; use group for it" % rec['remote'], f('remote'))
    rec['port'] = v.integer(entry['port'], f('port'), 1, 65535) if entry.get('port') is not None else 4789
    rec['learning'] = bool(entry['learning']) if entry.get('learning') is not None else True


def key(rec):
    return rec['name']


# ---------------------------------------------------------------- observe
def _kinds():
    """The registry's kinds: a link kind managed in another file adds its status details through
    details(linkinfo data, {index: name}, message) and port_details(slave data), and the bridge
    its ports' VLANs through port_vlans(nl) -> {index: vlans}."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS
    return KINDS


def read(nl, state=None):
    """LinkStatus records keyed by name."""
    kinds = _kinds()
    details = dict((k, m.details) for k, m in kinds.items() if hasattr(m, 'details'))
    msgs = linkdump.links(nl, own=details)
    names = dict((m['index'], m.get('ifname')) for m in msgs)
    slave_details = dict((k, m.port_details) for k, m in kinds.items() if hasattr(m, 'port_details'))
    out = {}
    for m in msgs:
        out[m.get('ifname')] = status(m, names, details, slave_details)
    selector.annotate(nl, msgs, out)
    for rec in out.values():
        if rec['kind'] in ('bond', 'bridge'):
            rec['ports'] = [n for n, r in sorted(out.items(), key=lambda kv: kv[1]['index']) if r['master'] == rec['name']]
    if any(r.get('vlan_filtering') for r in out.values()):
        vlans = kinds['bridge'].port_vlans(nl)
        for rec in out.values():
            if rec.get('bridge_port') is not None:
                rec['bridge_port']['vlans'] = vlans.get(rec['index'], [])
    return out


def status(m, names, details, slave_details):
    flags = m['flags']
    info = m.get('linkinfo')
    kind = info.get('kind') if info else None
    data = info.get('data') if info else None
    rec = {
        'name': m.get('ifname'),
        'index': m['index'],
        'kind': kind,
        'type': ARPHRD.get(m['ifi_type'], str(m['ifi_type'])),
        'flags': [n for bit, n in IFF_NAMES if flags & bit],
        'up': bool(flags & IFF_UP),
        'mtu': m.get('mtu'),
        'min_mtu': m.get('min_mtu'),
        'max_mtu': m.get('max_mtu'),
        'operational_state': (m.get('operstate') or 'unknown').lower(),
        'hardware_addr': (m.get('address') or '').lower() or None,
        'broadcast_addr': (m.get('broadcast') or '').lower() or None,
        'txqueuelen': m.get('txqlen'),
        'alias': m.get('ifalias'),
        'master': names.get(m.get('master')) if m.get('master') else None,
    }
    link = m.get('link')
    other_ns = m.get('link_netnsid') is not None
    if kind == 'veth':
        rec['peer'] = None if other_ns else names.get(link)
    elif kind == 'macvlan' and data is not None:
        rec['parent'] = None if other_ns else names.get(link)
        rec['macvlan_mode'] = data.get('macvlan_mode')
    elif kind == 'vxlan' and data is not None:
        rec['vni'] = data.get('vxlan_id')
        rec['parent'] = names.get(data.get('vxlan_link')) if data.get('vxlan_link') else None
        rec['local'] = data.get('vxlan_local') or data.get('vxlan_local6') or None
        grp = data.get('vxlan_group') or data.get('vxlan_group6') or None
        if grp and ipaddress.ip_address(grp).is_multicast:
            rec['group'], rec['remote'] = grp, None
        else:
            rec['group'], rec['remote'] = None, grp
        rec['port'] = data.get('vxlan_port')
        rec['learning'] = bool(data.get('vxlan_learning'))
    elif kind in details:
        rec.update(details[kind](data, names, m))
    slave_kind = info.get('slave_kind') if info else None
    if slave_kind in slave_details:
        rec[slave_kind + '_port'] = slave_details[slave_kind](info.get('slave_data'))
    return rec


# ---------------------------------------------------------------- plan
def _creators(records, observed):
    """name -> the desired record that creates it (veth peers included)."""
    creators = {}
    for rec in records:
        if rec['state'] == 'present' and rec['name'] not in observed and rec.get('kind'):
            creators[rec['name']] = rec
            if rec.get('kind') == 'veth':
                creators.setdefault(rec['peer'], rec)
    return creators


def declare(records, state, ctx):
    """What these links create, remove and need, before any kind plans (netdev.context)."""
    netdev.context(ctx, state)
    observed = state.links()
    selector.resolve(records, observed, lambda rec, i: netdev.where_of(rec, i, records, 'link'))
    creators = _creators(records, observed)
    for i, rec in enumerate(records):
        name = rec['name']
        where = netdev.where_of(rec, i, records, 'link')
        netdev.claim(ctx, name, where)
        if rec.get('rename_from'):   # a selected NIC renamed: its old name is gone after the plan
            ctx['link_present'].discard(rec['rename_from'])
            ctx['link_present'].add(name)
            ctx['link_mtu'][name] = observed[rec['rename_from']].get('mtu')
        obs = observed.get(name)
        if rec['state'] == 'absent':
            if obs is not None:
                ctx['link_absent'].add(name)
                ctx['link_present'].discard(name)
                if obs.get('peer'):   # removing one end of a veth removes both
                    ctx['link_absent'].add(obs['peer'])
                    ctx['link_present'].discard(obs['peer'])
            continue
        if obs is None and name in creators:
            ctx['link_present'].add(name)
            if rec.get('kind') == 'veth':
                ctx['link_present'].add(rec['peer'])
                ctx['link_deps'].setdefault(rec['peer'], set()).add(name)
        if rec.get('parent'):
            ctx['link_deps'].setdefault(name, set()).add(rec['parent'])
        if 'mtu' in rec:
            ctx['link_mtu'][name] = rec['mtu']
    _claim_peers(records, observed, ctx)


def _claim_peers(records, observed, ctx):
    """A new veth's peer name is a link this plan creates: no other new veth may use it as its peer,
    and no other declared link may create a link of that name (an entry of that name without `kind`
    only sets the peer's options)."""
    by_name = dict((rec['name'], rec) for rec in records)
    for i, rec in enumerate(records):
        if rec['state'] != 'present' or rec.get('kind') != 'veth' or rec['name'] in observed:
            continue
        where = v.sub(netdev.where_of(rec, i, records, 'link'), 'peer')
        other = by_name.get(rec['peer'])
        if other is not None:
            if other.get('kind') and not (other.get('kind') == 'veth' and other.get('peer') == rec['name']):
                raise ValidationError("'%s' is the name of another declared link (%s) that creates its own link; "
                                      "a veth's peer needs a name of its own" % (rec['peer'], other.get('_where') or 'kind %s' % other['kind']),
                                      where)
            continue
        owner = ctx['link_owner'].get(rec['peer'], False)
        if owner is not False:
            raise ValidationError("'%s' is already %s; two links can't have one name"
                                  % (rec['peer'], 'the peer named at %s' % owner if owner and owner.endswith('.peer') else
                                     'declared at %s' % (owner or 'another entry')), where)
        ctx['link_owner'][rec['peer']] = where


def plan(records, state, ctx):
    """Operations that make the links match `records` (names checked through ctx)."""
    netdev.context(ctx, state)
    ctx['link_records'] = records   # their NIC tuning: kinds/nic.py
    observed = state.links()
    ops = []
    creators = _creators(records, observed)
    deleted = set()
    for i, rec in enumerate(records):
        where = netdev.where_of(rec, i, records, 'link')
        name = rec['name']
        obs = observed.get(rec.get('rename_from') or name)
        if rec.get('rename_from'):
            ops.append(_op('modify', name, before={'name': rec['rename_from']}, after={'name': name}))
        if rec['state'] == 'absent':
            if obs is None:
                continue
            if rec.get('kind') and obs.get('kind') != rec['kind']:
                raise ValidationError("link '%s' exists but is of kind '%s', not '%s'; nothing removed"
                                      % (name, obs.get('kind'), rec['kind']), v.sub(where, 'kind'))
            if obs.get('kind') not in CREATABLE:
                raise ValidationError("link '%s' (kind %s) is not one this module creates (%s) and is not removed%s"
                                      % (name, obs.get('kind') or 'physical', ', '.join(CREATABLE),
                                         '; use the %s module' % obs['kind'] if obs.get('kind') in ('bond', 'vlan', 'bridge') else ''),
                                      v.sub(where, 'state'))
            if obs.get('kind') == 'veth' and obs.get('peer') in deleted:
                continue
            deleted.add(name)
            ops.append(_op('delete', name, before=obs))
            continue
        if obs is None:
            creator = creators.get(name)
            if creator is None:
                raise MissingReference("link '%s' does not exist; set kind (%s) to create it" % (name, ', '.join(CREATABLE)), v.sub(where, 'kind'))
            if creator is rec:
                ops.append(_op('create', name, after=netdev.clean(rec)))
            else:   # the peer end of a veth created in this plan: set it after creation
                changes = dict((k, rec[k]) for k in MUTABLE if k in rec)
                if changes:
                    ops.append(_op('modify', name, before={}, after=changes))
            continue
        if rec.get('kind') and obs.get('kind') != rec['kind']:
            raise ValidationError("link '%s' exists with kind '%s'; it can't become '%s' in place (remove it first)"
                                  % (name, obs.get('kind') or 'physical', rec['kind']), v.sub(where, 'kind'))
        for k in IMMUTABLE:
            if k in rec and obs.get(k) != rec[k]:
                raise ValidationError("link '%s' has %s=%s; the kernel fixes it at creation, so changing it to %s needs the link removed first"
                                      % (name, k, obs.get(k), rec[k]), v.sub(where, k))
        before, after = netdev.common_changes(rec, obs, where, MUTABLE)
        if after:
            ops.append(_op('modify', name, before=before, after=after))
    _check_references(records, observed, ctx)
    _check_vnis(records, observed, deleted)
    return ops


def _vxlan_family(rec):
    for k in ('local', 'remote', 'group'):
        if rec.get(k):
            return ipaddress.ip_address(rec[k]).version
    return 4


def _check_vnis(records, observed, deleted):
    """The kernel allows one VXLAN link per VNI, UDP port and address family in a namespace."""
    taken = dict(((o['vni'], o.get('port'), _vxlan_family(o)), 'link %s exists with it' % n) for n, o in observed.items()
                 if o.get('kind') == 'vxlan' and n not in deleted)
    for i, rec in enumerate(records):
        if rec['state'] != 'present' or rec.get('kind') != 'vxlan' or rec['name'] in observed:
            continue
        where = netdev.where_of(rec, i, records, 'link')
        k = (rec['vni'], rec['port'], _vxlan_family(rec))
        if k in taken:
            raise ValidationError("VNI %d on UDP port %d (IPv%d) is in use: %s; a namespace has one VXLAN link per VNI and port"
                                  % (k + (taken[k],)), v.sub(where, 'vni'))
        taken[k] = '%s declares it' % (where or 'another entry')


def _check_references(records, observed, ctx):
    for i, rec in enumerate(records):
        where = netdev.where_of(rec, i, records, 'link')
        if rec['state'] == 'present' and rec.get('parent'):
            netdev.need_link(ctx, rec['parent'], v.sub(where, 'parent'), "the parent of link '%s'" % rec['name'])
        if rec['state'] == 'present' and rec.get('peer') and rec['name'] not in observed and rec['peer'] in observed:
            raise ValidationError("a link named '%s' already exists, so it can't be the new veth's peer" % rec['peer'], v.sub(where, 'peer'))


# ---------------------------------------------------------------- apply
def apply(nl, op):
    name = op['key']
    try:
        if op['action'] == 'create':
            rec = op['after']
            nl.link('add', **_add_args(nl, rec))
            try:
                netdev.set_fields(nl, name, dict((k, rec[k]) for k in MUTABLE if k in rec and k != 'macvlan_mode'))
            except Exception:
                nl.link('del', index=netdev.index(nl, name))
                raise
        elif op['action'] == 'modify' and op['after'].get('name', name) != (op['before'] or {}).get('name', name):
            selector.rename(nl, netdev.index(nl, op['before']['name']), op['after']['name'], netdev.is_up(nl, op['before']['name']))
        elif op['action'] == 'modify':
            netdev.set_fields(nl, name, op['after'])
        elif op['action'] == 'delete':
            nl.link('del', index=netdev.index(nl, name))
    except Exception as e:  # noqa: BLE001
        raise refused(op, e)


def refused(op, e):
    """The error for an operation the kernel refused (alone or in a batch): which link, and for a kind
    the kernel lacks, the module or Kconfig symbol it needs."""
    kind = (op['after'] or op['before'] or {}).get('kind')
    return explain(e, "%s link '%s'" % (op['action'], op['key']), kind=kind, feature=FEATURES.get(kind))


# The netlink request for a create or a removal, for apply's batches (netlink.batch): a node of many
# links is made in a few sendmsg() calls, and without loading pyroute2, the way `ip -batch` does.
RTM_NEWLINK, RTM_DELLINK = 16, 17
IFLA_ADDRESS, IFLA_MTU, IFLA_LINK, IFLA_TXQLEN, IFLA_LINKINFO = 1, 4, 5, 13, 18
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFLA_MACVLAN_MODE = 1
MACVLAN_MODE_BITS = {'private': 1, 'vepa': 2, 'bridge': 4, 'passthru': 8, 'source': 16}
# What a create request carries: the rest (an alias, which the kernel takes only on a change; vxlan
# options; NIC tuning) goes through apply() one link at a time.
ENCODED = frozenset(('name', 'kind', 'state', 'peer', 'parent', 'macvlan_mode', 'up', 'mtu', 'hardware_addr', 'txqueuelen'))


def message(nl, op):
    """A create (veth, dummy, macvlan) or a removal as one request for netlink.batch(); None: apply it
    on its own. The create request sets what apply() sets after creating (up, mtu, hardware address,
    queue length), so the link appears as declared."""
    if op['action'] == 'delete':
        return Request(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, IFINFOMSG.pack(0, 0, link_index(nl, op['key']), 0, 0))
    rec = op['after']
    if op['action'] != 'create' or rec['kind'] not in ('veth', 'dummy', 'macvlan') \
            or any(k not in ENCODED for k, val in rec.items() if val is not None):
        return None
    flags = IFF_UP if rec.get('up') else 0
    body = IFINFOMSG.pack(0, 0, 0, flags, IFF_UP if rec.get('up') is not None else 0)
    body += nla_text(IFLA_IFNAME, rec['name'])
    if rec.get('mtu') is not None:
        body += nla(IFLA_MTU, struct.pack('=I', rec['mtu']))
    if rec.get('txqueuelen') is not None:
        body += nla(IFLA_TXQLEN, struct.pack('=I', rec['txqueuelen']))
    if rec.get('hardware_addr'):
        body += nla(IFLA_ADDRESS, mac_bytes(rec['hardware_addr']))
    data = b''
    if rec['kind'] == 'veth':
        data = nla(VETH_INFO_PEER, IFINFOMSG.pack(0, 0, 0, 0, 0) + nla_text(IFLA_IFNAME, rec['peer']))
    elif rec['kind'] == 'macvlan':
        body += nla(IFLA_LINK, struct.pack('=I', link_index(nl, rec['parent'])))
        data = nla(IFLA_MACVLAN_MODE, struct.pack('=I', MACVLAN_MODE_BITS[rec.get('macvlan_mode') or 'bridge']))
    info = nla_text(IFLA_INFO_KIND, rec['kind']) + (nla(IFLA_INFO_DATA, data) if data else b'')
    body += nla(IFLA_LINKINFO, info)
    return Request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body)


def _add_args(nl, rec):
    kind = rec['kind']
    kw = {'ifname': rec['name'], 'kind': kind}
    if kind == 'veth':
        kw['peer'] = {'ifname': rec['peer']}
    elif kind == 'macvlan':
        kw['link'] = netdev.index(nl, rec['parent'])
        kw['macvlan_mode'] = rec.get('macvlan_mode') or 'bridge'
    elif kind == 'vxlan':
        kw['vxlan_id'] = rec['vni']
        kw['vxlan_port'] = rec.get('port', 4789)
        kw['vxlan_learning'] = 1 if rec.get('learning', True) else 0
        if rec.get('parent'):
            kw['vxlan_link'] = netdev.index(nl, rec['parent'])
        six = any(':' in (rec.get(k) or '') for k in ('local', 'remote', 'group'))
        if rec.get('local'):
            kw['vxlan_local6' if six else 'vxlan_local'] = rec['local']
        peer = rec.get('remote') or rec.get('group')
        if peer:
            kw['vxlan_group6' if six else 'vxlan_group'] = peer
    return kw


def inverse(op):
    if op['action'] == 'create':
        return _op('delete', op['key'], before=op['after'])
    if op['action'] == 'delete':
        return _op('create', op['key'], after=recreate(op['before']))
    return _op('modify', (op['before'] or {}).get('name') or op['key'], before=op['after'], after=op['before'])


def recreate(obs):
    """A desired record that recreates an observed link as it was."""
    rec = {'name': obs['name'], 'kind': obs['kind']}
    for k in ('peer', 'parent', 'macvlan_mode', 'vni', 'local', 'remote', 'group', 'port', 'learning',
              'up', 'mtu', 'hardware_addr', 'txqueuelen', 'alias'):
        if obs.get(k) is not None:
            rec[k] = obs[k]
    return rec


# ---------------------------------------------------------------- verify
def satisfied(op, state):
    obs = state.links().get(op['key'])
    if op['action'] == 'delete':
        return obs is None, None
    if obs is None:
        return False, "link '%s' is missing" % op['key']
    for k, want in op['after'].items():
        if k in ('name', 'kind') or k in IMMUTABLE:
            if k == 'kind' and obs.get('kind') != want:
                return False, "link '%s' kind is %s, expected %s" % (op['key'], obs.get('kind'), want)
            continue
        if obs.get(k) != want:
            return False, "link '%s' %s is %s, expected %s" % (op['key'], k, obs.get(k), want)
    return True, None
