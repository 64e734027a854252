# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses: IPv4 and IPv6 in CIDR form on a link."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import struct

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import dhcp
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import (
    RTM_GETADDR, attrs, c_string, dump, ip_text, u32,
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, Request, batch, link_index, nla, nla_text, read_sysctl, write_sysctl)

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
# Flags a user or a program chose when adding the address (the rest are the kernel's state):
# a rolled-back removal adds the address again with these, and with its lifetimes.
CHOSEN_FLAGS = ('nodad', 'homeaddress', 'managetempaddr', 'noprefixroute')
FOREVER = 0xFFFFFFFF

OPTIONS = dict(
    address=dict(type='str', required=True),
    link=dict(type='str', required=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    label=dict(type='str'),
)

_op = base.maker(KIND)


def normalize(entry, where=''):
    f = v.fields(entry, OPTIONS, where)

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


IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST, IFA_CACHEINFO, IFA_FLAGS = 1, 2, 3, 4, 6, 8
CACHEINFO = struct.Struct('=IIII')     # preferred, valid, cstamp, tstamp
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
                'label': c_string(a[IFA_LABEL]) if IFA_LABEL in a else None,
            }
            if fam == socket.AF_INET:
                rec['broadcast'] = ip_text(fam, a[IFA_BROADCAST]) if IFA_BROADCAST in a else None
                if addr_raw and ip_text(fam, addr_raw) != addr:
                    rec['peer'] = ip_text(fam, addr_raw)
            if IFA_CACHEINFO in a:   # seconds left; only addresses that expire (DHCP, SLAAC, a lifetime given to ip) have them
                preferred, valid = CACHEINFO.unpack_from(a[IFA_CACHEINFO])[:2]
                if valid != FOREVER:
                    rec['valid_lft'] = valid
                if preferred != FOREVER:
                    rec['preferred_lft'] = preferred
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
    present, absent = base.links_in(ctx, state)
    ops = []
    for where, k, rec in base.keyed(records, SECTION, key, lambda rec, k: (
            "address %s on %s is declared twice" % (rec['address'], rec['link']), 'address')):
        obs = observed.get(k)
        if rec['state'] == 'absent':
            if obs is not None and rec['link'] not in absent:
                ops.append(_op('delete', k, before=obs))
            continue
        base.need_link(rec['link'], v.sub(where, 'link'), present, absent)
        if obs is None:
            ops.append(_op('create', k, after=_clean(rec)))
        elif 'label' in rec and (obs.get('label') or rec['link']) != rec['label']:
            ops.append(_op('modify', k, before=obs, after=_clean(rec)))
    return ops


PURGE = ('addresses',)


def purge(records, state, links, planned, chosen):
    """Removals for `purge: [addresses]`: the addresses on managed links that no entry declares
    (not the kernel's own IPv6 link-local ones, not VIPs: the vips section or keepalived manages those)."""
    declared = set(key(r) for r in records.get(KIND, []))
    vips = set(key(r) for r in state.get('vip').values()) if 'vip' in state.readers else set()
    out = []
    for k, obs in sorted(state.get(KIND).items()):
        if obs['link'] in links and k not in declared and (KIND, k) not in planned \
                and not (obs['family'] == 'inet6' and obs['scope'] == 'link') and k not in vips \
                and not (obs.get('valid_lft') is not None and dhcp.operator_of(state, obs['link'], obs['family'])):
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
        if op['action'] in ('delete', 'modify'):
            changed = _delete(nl, op['before'])
            if changed:
                op.setdefault('sysctls_before', {}).update(changed)   # for the inverse (journal)
        if op['action'] in ('create', 'modify'):
            _add(nl, op['after'])
        for path, value in sorted((op.get('restore_sysctls') or {}).items()):
            write_sysctl(nl, path, value)
    except Exception as e:  # noqa: BLE001
        raise explain(e, what)


def _add(nl, rec):
    """Add an address; one put back by a rollback also gets the flags and lifetimes it had."""
    if not rec.get('flags') and 'valid_lft' not in rec and 'preferred_lft' not in rec:
        nl.addr('add', **_args(nl, rec))
        return
    code = batch(nl, [_create(nl, rec)])[0]
    if code:
        raise OSError(code, os.strerror(code))


def message(nl, op):
    """A create or delete request as one message for netlink.batch() (None: apply it on its own)."""
    if op['action'] == 'modify':
        return None
    rec = op['after'] if op['action'] == 'create' else op['before']
    if op['action'] == 'create':
        return _create(nl, rec)
    changed = _promote_secondaries(nl, rec)
    if changed:
        op.setdefault('sysctls_before', {}).update(changed)   # for the inverse (journal)
    return Request(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, _message(nl, rec))


def _message(nl, rec):
    """The request's body: ifaddrmsg, the address as IFA_LOCAL and IFA_ADDRESS, the label."""
    addr, plen = rec['address'].rsplit('/', 1)
    fam = socket.AF_INET if rec['family'] == 'inet4' else socket.AF_INET6
    raw = socket.inet_pton(fam, addr)
    body = IFADDRMSG.pack(fam, int(plen), 0, 0, link_index(nl, rec['link'])) + nla(IFA_LOCAL, raw) + nla(IFA_ADDRESS, raw)
    if rec.get('label'):
        body += nla_text(IFA_LABEL, rec['label'])
    return body


def _create(nl, rec):
    """The RTM_NEWADDR request for `rec`, with the flags and lifetimes a rolled-back removal puts
    back (none for an address as declared)."""
    body = _message(nl, rec)
    if rec.get('flags'):
        flags = 0
        for bit, name in IFA_FLAGS_NAMES:
            if name in rec['flags']:
                flags |= bit
        body += nla(IFA_FLAGS, struct.pack('=I', flags))
    if 'valid_lft' in rec or 'preferred_lft' in rec:
        valid = rec.get('valid_lft', FOREVER)
        body += nla(IFA_CACHEINFO, CACHEINFO.pack(min(rec.get('preferred_lft', FOREVER), valid), valid, 0, 0))
    return Request(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body)


def _promote_secondaries(nl, rec):
    """Before removing a primary IPv4 address: without promote_secondaries the kernel deletes every
    secondary address of the subnet with it. Checked once per link and socket; returns
    {sysctl path: value before} when it had to change it (a rollback puts that back)."""
    if rec.get('family') != 'inet4' or 'secondary' in (rec.get('flags') or []):
        return {}
    done = getattr(nl, 'nodenet_promoted', None)
    if done is None:
        done = nl.nodenet_promoted = set()
    if rec['link'] in done:
        return {}
    done.add(rec['link'])
    path = 'net/ipv4/conf/%s/promote_secondaries' % rec['link']
    old = read_sysctl(nl, path)
    if old is not None and old != '1':
        write_sysctl(nl, path, 1)
        return {path: old}
    return {}


def _delete(nl, rec):
    """Delete the address; returns {sysctl path: value before} for what it had to change."""
    changed = _promote_secondaries(nl, rec)
    nl.addr('del', **_args(nl, rec))
    return changed


def _exact(rec):
    """What adding `rec` again needs to make it as it was: its chosen flags and its lifetimes."""
    out = _clean(rec)
    flags = [f for f in rec.get('flags') or () if f in CHOSEN_FLAGS]
    if flags:
        out['flags'] = flags
    for k in ('valid_lft', 'preferred_lft'):
        if rec.get(k) is not None:
            out[k] = rec[k]
    return out


def inverse(op):
    restore = op.get('sysctls_before')
    if op['action'] == 'create':
        inv = _op('delete', op['key'], before=op['after'])
    elif op['action'] == 'delete':
        inv = _op('create', op['key'], after=_exact(op['before']))
    else:
        inv = _op('modify', op['key'], before=op['after'], after=_exact(op['before']))
    if restore:
        inv['restore_sysctls'] = restore
    return inv


def _check(op, obs):
    want = op['after'].get('label')
    if want and obs.get('label') != want:
        return "address %s has label %s, expected %s" % (op['key'], obs.get('label'), want)
    return None


satisfied = base.presence(KIND, 'address', _check)
