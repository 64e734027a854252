# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses: IPv4 and IPv6 in CIDR form on a link."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import MissingReference, ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import (
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, batch, link_index, read_sysctl, write_sysctl)

try:
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
except ImportError:  # pragma: no cover - netlink.open_netlink reports the missing library
    ifaddrmsg = None

RTM_NEWADDR = 20

KIND = 'address'
RANK = 1
SCOPES = {0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere'}
IFA_FLAGS = [(0x01, 'secondary'), (0x02, 'nodad'), (0x04, 'optimistic'), (0x08, 'dadfailed'),
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


def read(nl, state):
    out = {}
    for m in nl.get_addr():
        link = state.link_name(m['index'])
        fam = m['family']
        addr = m.get('address') if fam == socket.AF_INET6 else (m.get('local') or m.get('address'))
        cidr = '%s/%d' % (addr, m['prefixlen'])
        flags = m.get_attr('IFA_FLAGS')   # all 32 bits (the header field has only the first 8)
        if flags is None:
            flags = m['flags']
        rec = {
            'address': cidr,
            'link': link,
            'link_index': m['index'],
            'family': 'inet4' if fam == socket.AF_INET else 'inet6',
            'scope': SCOPES.get(m['scope'], str(m['scope'])),
            'flags': [n for bit, n in IFA_FLAGS if flags & bit],
            'label': m.get('label'),
        }
        if fam == socket.AF_INET:
            rec['broadcast'] = m.get('broadcast')
            if m.get('address') and m.get('address') != addr:
                rec['peer'] = m.get('address')
        cache = m.get_attr('IFA_CACHEINFO')
        if cache:   # seconds left; only addresses that expire (DHCP, SLAAC, a lifetime given to ip) have them
            if cache['ifa_valid'] != FOREVER:
                rec['valid_lft'] = cache['ifa_valid']
            if cache['ifa_preferred'] != FOREVER:
                rec['preferred_lft'] = cache['ifa_preferred']
        out[key(rec)] = rec
    return out


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


def _op(action, k, before=None, after=None):
    return {'kind': KIND, 'action': action, 'key': k, 'before': before, 'after': after}


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
    m = _message(nl, rec)
    flags = 0
    for bit, name in IFA_FLAGS:
        if name in rec.get('flags', ()):
            flags |= bit
    m['attrs'].append(('IFA_FLAGS', flags))
    if 'valid_lft' in rec or 'preferred_lft' in rec:
        valid = rec.get('valid_lft', FOREVER)
        m['attrs'].append(('IFA_CACHEINFO', {'ifa_valid': valid, 'ifa_preferred': min(rec.get('preferred_lft', FOREVER), valid),
                                             'cstamp': 0, 'tstamp': 0}))
    code = batch(nl, [m])[0]
    if code:
        raise OSError(code, os.strerror(code))


def message(nl, op):
    """The create request as one message for netlink.batch() (None: apply it on its own)."""
    if op['action'] != 'create' or ifaddrmsg is None:
        return None
    return _message(nl, op['after'])


def _message(nl, rec):
    addr, plen = rec['address'].rsplit('/', 1)
    m = ifaddrmsg()
    m['family'] = socket.AF_INET if rec['family'] == 'inet4' else socket.AF_INET6
    m['prefixlen'] = int(plen)
    m['index'] = link_index(nl, rec['link'])
    attrs = [('IFA_LOCAL', addr), ('IFA_ADDRESS', addr)]
    if rec.get('label'):
        attrs.append(('IFA_LABEL', rec['label']))
    m['attrs'] = attrs
    m['header']['type'] = RTM_NEWADDR
    m['header']['flags'] = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    return m


def _delete(nl, rec):
    """Delete the address; returns {sysctl path: value before} for what it had to change."""
    changed = {}
    if rec.get('family') == 'inet4' and 'secondary' not in (rec.get('flags') or []):
        # without this the kernel deletes every secondary address of the subnet with its primary
        path = 'net/ipv4/conf/%s/promote_secondaries' % rec['link']
        old = read_sysctl(nl, path)
        if old is not None and old != '1':
            write_sysctl(nl, path, 1)
            changed[path] = old
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


def satisfied(op, state):
    obs = state.get(KIND).get(op['key'])
    if op['action'] == 'delete':
        return obs is None, None
    if obs is None:
        return False, "address %s is missing" % op['key']
    want = op['after'].get('label')
    if want and obs.get('label') != want:
        return False, "address %s has label %s, expected %s" % (op['key'], obs.get('label'), want)
    return True, None
