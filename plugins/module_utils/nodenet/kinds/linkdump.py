# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The link dump (RTM_GETLINK), decoded only as far as a LinkStatus record needs.

pyroute2's generic decoder builds an object for every attribute of every link (statistics, VF
lists, AF_SPEC ...), which made reading the links the largest part of a re-run. This decodes the
fixed header and the few attributes link.status(), the kinds' details()/port_details() and
selector.annotate() use, into messages that answer the same calls as pyroute2's (m['index'],
m.get('ifname'), m.get('linkinfo').get('data').get_attr('IFLA_VLAN_ID') ...), so those readers
work on either. A link whose kind data is not decoded here (a bond's options: many attributes,
lists of addresses) or whose hardware address is not a MAC is handed to pyroute2's decoder, that
link only: a node has few of them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import (
    IFINFOMSG, RTM_GETLINK, attrs, c_string as _text, dump, pyroute2_ready, u32 as _u32)

RTM_NEWLINK = 16
OPERSTATES = ('UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP')
MACVLAN_MODES = {0: 'none', 1: 'private', 2: 'vepa', 4: 'bridge', 8: 'passthru', 16: 'source'}


def _u8(raw):
    return struct.unpack_from('=B', raw)[0]


def _u16(raw):
    return struct.unpack_from('=H', raw)[0]


def _i32(raw):
    return struct.unpack_from('=i', raw)[0]


def _be16(raw):
    return struct.unpack_from('>H', raw)[0]


def _hex(raw):
    return ':'.join('%02x' % c for c in bytearray(raw))


def _mac(raw):
    if len(raw) != 6:
        raise _Unusual()
    return _hex(raw)


def _ip4(raw):
    return socket.inet_ntop(socket.AF_INET, raw[:4])


def _ip6(raw):
    return socket.inet_ntop(socket.AF_INET6, raw[:16])


def _macvlan_mode(raw):
    val = _u32(raw)
    return MACVLAN_MODES.get(val, val)


# {attribute number: (pyroute2's name, decoder)} of what the readers use, per attribute set.
LINK = {
    1: ('IFLA_ADDRESS', _mac), 2: ('IFLA_BROADCAST', _mac), 3: ('IFLA_IFNAME', _text), 4: ('IFLA_MTU', _u32),
    5: ('IFLA_LINK', _u32), 10: ('IFLA_MASTER', _u32), 13: ('IFLA_TXQLEN', _u32),
    16: ('IFLA_OPERSTATE', lambda raw: OPERSTATES[_u8(raw)] if _u8(raw) < len(OPERSTATES) else _u8(raw)),
    20: ('IFLA_IFALIAS', _text), 37: ('IFLA_LINK_NETNSID', _i32), 50: ('IFLA_MIN_MTU', _u32),
    51: ('IFLA_MAX_MTU', _u32), 54: ('IFLA_PERM_ADDRESS', _hex), 56: ('IFLA_PARENT_DEV_NAME', _text),
    57: ('IFLA_PARENT_DEV_BUS_NAME', _text),
}
IFLA_LINKINFO = 18
INFO_KIND, INFO_DATA, INFO_SLAVE_KIND, INFO_SLAVE_DATA = 1, 2, 4, 5
# Kind data (IFLA_INFO_DATA) decoded here; a kind with status details that is not listed goes to pyroute2.
DATA = {
    'macvlan': {1: ('IFLA_MACVLAN_MODE', _macvlan_mode)},
    'bridge': {1: ('IFLA_BR_FORWARD_DELAY', _u32), 2: ('IFLA_BR_HELLO_TIME', _u32), 3: ('IFLA_BR_MAX_AGE', _u32),
               5: ('IFLA_BR_STP_STATE', _u32), 6: ('IFLA_BR_PRIORITY', _u16), 7: ('IFLA_BR_VLAN_FILTERING', _u8),
               39: ('IFLA_BR_VLAN_DEFAULT_PVID', _u16)},
    'vlan': {1: ('IFLA_VLAN_ID', _u16), 5: ('IFLA_VLAN_PROTOCOL', _be16)},
    'vxlan': {1: ('IFLA_VXLAN_ID', _u32), 2: ('IFLA_VXLAN_GROUP', _ip4), 3: ('IFLA_VXLAN_LINK', _u32),
              4: ('IFLA_VXLAN_LOCAL', _ip4), 7: ('IFLA_VXLAN_LEARNING', _u8), 15: ('IFLA_VXLAN_PORT', _be16),
              16: ('IFLA_VXLAN_GROUP6', _ip6), 17: ('IFLA_VXLAN_LOCAL6', _ip6)},
}
# What a port says about itself to its bridge or bond (IFLA_INFO_SLAVE_DATA).
SLAVE_DATA = {
    'bridge': {1: ('IFLA_BRPORT_STATE', _u8), 2: ('IFLA_BRPORT_PRIORITY', _u16), 3: ('IFLA_BRPORT_COST', _u32)},
    'bond': {1: ('IFLA_BOND_SLAVE_STATE', _u8), 2: ('IFLA_BOND_SLAVE_MII_STATUS', _u8),
             3: ('IFLA_BOND_SLAVE_LINK_FAILURE_COUNT', _u32), 4: ('IFLA_BOND_SLAVE_PERM_HWADDR', _mac)},
}


class _Unusual(Exception):
    """This link needs pyroute2's decoder."""


class Attrs(dict):
    """Decoded attributes keyed by their kernel name; get() also takes pyroute2's short name
    ('mtu' for IFLA_MTU, 'vxlan_id' for IFLA_VXLAN_ID), get_attr() the full one."""

    prefix = 'IFLA_'

    def get(self, key, default=None):
        if key in self:
            return self[key]
        return dict.get(self, self.prefix + key.upper(), default)

    def get_attr(self, key, default=None):
        return dict.get(self, key, default)


class _Info(Attrs):
    prefix = 'IFLA_INFO_'


def _decode_set(raw, table):
    out = Attrs()
    for atype, val in attrs(raw, 0).items():
        spec = table.get(atype)
        if spec is not None:
            out[spec[0]] = spec[1](val)
    return out


def decode(body, own=None):
    """One RTM_NEWLINK message body as a message the link readers can use (see the module doc).
    own: the kinds whose data this decoder must not skip (they have status details); a link of
    such a kind that DATA does not cover is decoded by pyroute2."""
    family, itype, index, flags, change = IFINFOMSG.unpack_from(body)
    try:
        a = attrs(body, IFINFOMSG.size)
        m = Attrs(index=index, flags=flags, ifi_type=itype, family=family, change=change)
        for atype, val in a.items():
            spec = LINK.get(atype)
            if spec is not None:
                m[spec[0]] = spec[1](val)
        if IFLA_LINKINFO in a:
            info = attrs(a[IFLA_LINKINFO], 0)
            li = _Info()
            kind = _text(info[INFO_KIND]) if INFO_KIND in info else None
            if kind is not None:
                li['IFLA_INFO_KIND'] = kind
                if INFO_DATA in info:
                    if kind in DATA:
                        li['IFLA_INFO_DATA'] = _decode_set(info[INFO_DATA], DATA[kind])
                    elif own is None or kind in own:
                        raise _Unusual()
            slave = _text(info[INFO_SLAVE_KIND]) if INFO_SLAVE_KIND in info else None
            if slave is not None:
                li['IFLA_INFO_SLAVE_KIND'] = slave
                if INFO_SLAVE_DATA in info and slave in SLAVE_DATA:
                    li['IFLA_INFO_SLAVE_DATA'] = _decode_set(info[INFO_SLAVE_DATA], SLAVE_DATA[slave])
            m['IFLA_LINKINFO'] = li
        return m
    except (_Unusual, IndexError, struct.error, ValueError):
        return pyroute2_decode(body)


def pyroute2_decode(body):
    """The message decoded by pyroute2's generic decoder (the fallback, and the tests' reference)."""
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    pyroute2_ready()
    msg = ifinfmsg(struct.pack('=IHHII', 16 + len(body), RTM_NEWLINK, 0, 0, 0) + bytes(body))
    msg.decode()
    return msg


def raw_links(nl, index=None):
    """The undecoded link messages: every link, or the one with this ifindex (ENODEV if none)."""
    return dump(nl, RTM_GETLINK, IFINFOMSG.pack(0, 0, index or 0, 0, 0), one=bool(index))


def links(nl, own=None, index=None):
    """The links of the namespace `nl` works on (or the one with this ifindex), decoded by decode()."""
    return [decode(body, own) for body in raw_links(nl, index)]


def one(nl, index):
    """The link with this ifindex, decoded (its kind data too, by pyroute2 where DATA lacks it)."""
    return links(nl, index=index)[0]
