# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses: IPv4 and IPv6 in CIDR form on a link."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import MissingReference, ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import (
    RTM_GETADDR, attrs, dump, ip_text, u32,
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, link_index, write_sysctl)

try:
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
except ImportError:  # pragma: no cover - netlink.open_netlink reports the missing library
    ifaddrmsg = None

RTM_NEWADDR, RTM_DELADDR = 20, 21

KIND = 'address'
SECTION = 'addresses'
RANK = 1
LINK = False
FEATURE = None
INFO = 'addresses'
SCOPES = {0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere'}
IFA_FLAGS_NAMES = [(0x01, 'secondary'), (0x02, 'nodad'), (0x04, 'optimistic'), (0x08, 'dadfailed'),
                   (0x10, 'homeaddress'), (0x20, 'deprecated'), (0x40, 'tentative'), (0x80, 'permanent'),
                   (0x100, 'managetempaddr'), (0x200, 'noprefixroute')]

OPTIONS = dict(
    address=dict(type='str', required=True),
    link=dict(type='str', required=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    label=dict(type='str'),
)

_op = base.maker(KIND)


def normalize(entry, where=''):
    v.reject_unknown(entry, OPTIONS, where)

    def f(name):
        return v.sub(where, name)

    iface = v.interface(entry.get('address'), f('address'))
    rec = {
        'address': str(iface.with_prefixlen) if iface.version == 4 else '%s/%d' % (iface.ip.compressed, iface.network.prefixlen),
        'link': v.ifname(entry.get('link'), f('link')),
        'state': v.choice(entry.get('state') or 'present', f('state'), ('present', 'absent')),
        'family': 'inet4' if iface.version == 4 else 'inet6',
    }
    if iface.ip.is_multicast or iface.ip.is_unspecified:
        raise ValidationError("'%s' can't be assigned to a link (multicast or unspecified)" % entry.get('address'), f('address'))
    if entry.get('label') is not None:
        label = entry['label']
        if iface.version != 4:
            raise ValidationError("labels exist for IPv4 addresses only", f('label'))
        if len(label.encode('utf-8')) > 15 or not (label == rec['link'] or label.startswith(rec['link'] + ':')):
            raise ValidationError("'%s' must be the link name or start with '%s:' and be at most 15 bytes" % (label, rec['link']), f('label'))
        rec['label'] = label
    return rec


def key(rec):
    return '%s %s' % (rec['link'], rec['address'])


IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST, IFA_FLAGS = 1, 2, 3, 4, 8
IFADDRMSG = struct.Struct('=BBBBI')     # family, prefixlen, flags, scope, index


def read(nl, state, links=None):
    """AddressStatus records keyed like the planner keys addresses; links: only the addresses on
    these link indexes (kernel-side filter where the kernel has strict checking), None: all."""
    out = {}
    for index in sorted(links) if links else (0,):
        for body in dump(nl, RTM_GETADDR, IFADDRMSG.pack(0, 0, 0, 0, index), strict=bool(index)):
            fam, plen, hflags, scope, idx = IFADDRMSG.unpack_from(body)
            if index and idx != index:
                continue
            a = attrs(body, IFADDRMSG.size)
            addr_raw = a.get(IFA_ADDRESS)
            addr = addr_raw if fam == socket.AF_INET6 else (a.get(IFA_LOCAL) or addr_raw)
            if addr is None:
                continue
            addr = ip_text(fam, addr)
            flags = u32(a[IFA_FLAGS]) if IFA_FLAGS in a else hflags
            rec = {
                'address': '%s/%d' % (addr, plen),
                'link': state.link_name(idx),
                'link_index': idx,
                'family': 'inet4' if fam == socket.AF_INET else 'inet6',
                'scope': SCOPES.get(scope, str(scope)),
                'flags': [n for bit, n in IFA_FLAGS_NAMES if flags & bit],
                'label': a[IFA_LABEL].split(b'\0', 1)[0].decode('utf-8', 'replace') if IFA_LABEL in a else None,
            }
            if fam == socket.AF_INET:
                rec['broadcast'] = ip_text(fam, a[IFA_BROADCAST]) if IFA_BROADCAST in a else None
                if addr_raw and ip_text(fam, addr_raw) != addr:
                    rec['peer'] = ip_text(fam, addr_raw)
            out[key(rec)] = rec
    return out


NARROW = 16    # re-read per link up to this many links, the whole table beyond


def read_some(ops):
    """read(nl, state) of only the links these operations name (for verify)."""
    names = set((op['after'] or op['before'])['link'] for op in ops)

    def read_links(nl, state):
        links = state.links()
        if len(names) > NARROW:
            return read(nl, state)
        indexes = set(links[n]['index'] for n in names if n in links)
        return read(nl, state, links=indexes) if indexes else {}
    return read_links


def plan(records, state, ctx):
    observed = state.get(KIND)
    links = state.links()
    present = ctx.get('link_present', set(links))
    absent = ctx.get('link_absent', set())
    ops, seen = [], {}
    for i, rec in enumerate(records):
        where = rec.get('_where', 'addresses[%d]' % i if len(records) > 1 else '')
        k = key(rec)
        if k in seen:
            raise ValidationError("address %s on %s is declared twice" % (rec['address'], rec['link']), v.sub(where, 'address'))
        seen[k] = True
        obs = observed.get(k)
        if rec['state'] == 'absent':
            if obs is not None and rec['link'] not in absent:
                ops.append(_op('delete', k, before=obs))
            continue
        if rec['link'] in absent or rec['link'] not in present:
            raise MissingReference("link '%s' does not exist and is not declared" % rec['link'], v.sub(where, 'link'))
        if obs is None:
            ops.append(_op('create', k, after=_clean(rec)))
        elif 'label' in rec and (obs.get('label') or rec['link']) != rec['label']:
            ops.append(_op('modify', k, before=obs, after=_clean(rec)))
    return ops


PURGE = ('addresses',)


def purge(records, state, links, planned, chosen):
    """Removals for `purge: [addresses]`: the addresses on managed links that no entry declares
    (not the kernel's own IPv6 link-local ones)."""
    declared = set(key(r) for r in records.get(KIND, []))
    out = []
    for k, obs in sorted(state.get(KIND).items()):
        if obs['link'] in links and k not in declared and (KIND, k) not in planned \
                and not (obs['family'] == 'inet6' and obs['scope'] == 'link'):
            out.append(_op('delete', k, before=obs))
    return out


def _clean(rec):
    return dict((k, val) for k, val in rec.items()
                if k in ('address', 'link', 'family', 'label') and val is not None)


def _args(nl, rec):
    addr, plen = rec['address'].rsplit('/', 1)
    kw = {'index': link_index(nl, rec['link']), 'address': addr, 'prefixlen': int(plen)}
    if rec.get('label'):
        kw['label'] = rec['label']
    return kw


def apply(nl, op):
    what = "%s address %s on '%s'" % (op['action'], (op['after'] or op['before'])['address'], (op['after'] or op['before'])['link'])
    try:
        if op['action'] == 'create':
            nl.addr('add', **_args(nl, op['after']))
        elif op['action'] == 'delete':
            _delete(nl, op['before'])
        else:
            _delete(nl, op['before'])
            nl.addr('add', **_args(nl, op['after']))
    except Exception as e:  # noqa: BLE001
        raise explain(e, what)


def message(nl, op):
    """A create or delete request as one message for netlink.batch() (None: apply it on its own)."""
    if op['action'] == 'modify' or ifaddrmsg is None:
        return None
    rec = op['after'] if op['action'] == 'create' else op['before']
    addr, plen = rec['address'].rsplit('/', 1)
    m = ifaddrmsg()
    m['family'] = socket.AF_INET if rec['family'] == 'inet4' else socket.AF_INET6
    m['prefixlen'] = int(plen)
    m['index'] = link_index(nl, rec['link'])
    attrs = [('IFA_LOCAL', addr), ('IFA_ADDRESS', addr)]
    if rec.get('label'):
        attrs.append(('IFA_LABEL', rec['label']))
    m['attrs'] = attrs
    if op['action'] == 'create':
        m['header']['type'] = RTM_NEWADDR
        m['header']['flags'] = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    else:
        _promote_secondaries(nl, rec)
        m['header']['type'] = RTM_DELADDR
        m['header']['flags'] = NLM_F_REQUEST | NLM_F_ACK
    return m


def _promote_secondaries(nl, rec):
    """Before removing a primary IPv4 address: without promote_secondaries the kernel deletes every
    secondary address of the subnet with it. Written once per link and socket."""
    if rec.get('family') != 'inet4' or 'secondary' in (rec.get('flags') or []):
        return
    done = getattr(nl, 'nodenet_promoted', None)
    if done is None:
        done = nl.nodenet_promoted = set()
    if rec['link'] not in done:
        write_sysctl(nl, 'net/ipv4/conf/%s/promote_secondaries' % rec['link'], 1)
        done.add(rec['link'])


def _delete(nl, rec):
    _promote_secondaries(nl, rec)
    nl.addr('del', **_args(nl, rec))


inverse = base.inverter(KIND, _clean)


def _check(op, obs):
    want = op['after'].get('label')
    if want and obs.get('label') != want:
        return "address %s has label %s, expected %s" % (op['key'], obs.get('label'), want)
    return None


satisfied = base.presence(KIND, 'address', _check)
