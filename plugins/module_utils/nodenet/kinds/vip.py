# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Virtual IPs: an address marked as a VIP (IFA_PROTO), announced to the link when assigned.

The mark: every address this kind assigns carries the address protocol IFA_PROTO = 118
(Linux >= 5.18 keeps it with the address, `ip -d addr` shows it as `proto 118`), so a VIP is
told apart from the node's own addresses by anything that reads the kernel, in both families
(labels exist for IPv4 only). VIPs are host addresses (/32, /128 unless a prefix is given),
added with `noprefixroute` (the node's own address provides the subnet route) and, for IPv6,
`nodad` (a VIP moves between nodes; it must answer at once).

Announcing: on assignment, `announce_count` gratuitous ARP requests (IPv4; sender = target =
the VIP, broadcast) or unsolicited neighbour advertisements (IPv6; to ff02::1, Override set,
with the link's address as target link-layer address), `announce_interval` seconds apart.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import socket
import struct
import time

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import address
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import linkdump
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import (
    RTM_GETADDR, attrs, dump, in_netns, ip_text, link_index, mac_bytes, write_sysctl)

KIND = 'vip'
SECTION = 'vips'
LINK = False
FEATURE = None
INFO = None           # network_info's `vips` joins these with keepalived's (info.py)
RANK = 1.5             # after the addresses (a VIP lives beside the node's own address), before routes
IFA_PROTO = 11
VIP_PROTO = 118        # IFA_PROTO value that marks an address as a VIP ('v'); 0-3 are the kernel's own
IFA_F_NODAD = 0x02
IFA_F_NOPREFIXROUTE = 0x200

OPTIONS = dict(
    address=dict(type='str', required=True),
    link=dict(type='str', required=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    announce_count=dict(type='int', default=3),
    announce_interval=dict(type='float', default=0.5),
)


def normalize(entry, where=''):
    f = v.fields(entry, OPTIONS, where)

    raw = entry.get('address')
    text = str(raw).strip() if raw is not None else ''
    try:
        iface = ipaddress.ip_interface(text if '/' in text else text + ('/128' if ':' in text else '/32'))
    except ValueError:
        raise ValidationError("'%s' is not an IPv4 or IPv6 address (optionally with a prefix length)" % raw, f('address'))
    ip = iface.ip
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback or ip.is_link_local:
        raise ValidationError("'%s' can't be a VIP: multicast, unspecified, loopback and link-local addresses are refused" % raw,
                              f('address'))
    if iface.version == 4 and iface.network.prefixlen < 32 and ip in (iface.network.network_address, iface.network.broadcast_address) \
            and iface.network.prefixlen < 31:
        raise ValidationError("'%s' is the network or broadcast address of its subnet" % raw, f('address'))
    count = entry.get('announce_count')
    interval = entry.get('announce_interval')
    rec = {
        'address': '%s/%d' % (ip.compressed, iface.network.prefixlen),
        'link': v.ifname(entry.get('link'), f('link')),
        'state': v.choice(entry.get('state') or 'present', f('state'), ('present', 'absent')),
        'family': 'inet4' if iface.version == 4 else 'inet6',
        'announce_count': v.integer(3 if count is None else count, f('announce_count'), 0, 100),
        'announce_interval': _seconds(0.5 if interval is None else interval, f('announce_interval')),
    }
    return rec


def _seconds(value, field):
    try:
        val = float(value)
    except (TypeError, ValueError):
        raise ValidationError("must be a number of seconds between 0 and 10, got '%s'" % value, field)
    if isinstance(value, bool) or not 0 <= val <= 10:
        raise ValidationError("must be a number of seconds between 0 and 10, got '%s'" % value, field)
    return val


def key(rec):
    return '%s %s' % (rec['link'], rec['address'].split('/')[0])


def read(nl, state):
    """Addresses that carry the VIP mark, keyed by link and IP (the prefix length is a detail).
    The address dump decoded as far as the mark and the address (address.py's constants)."""
    out = {}
    for body in dump(nl, RTM_GETADDR, address.IFADDRMSG.pack(0, 0, 0, 0, 0)):
        fam, plen, dummy, dummy, idx = address.IFADDRMSG.unpack_from(body)
        a = attrs(body, address.IFADDRMSG.size)
        if IFA_PROTO not in a or bytearray(a[IFA_PROTO])[0] != VIP_PROTO:
            continue
        raw = a.get(address.IFA_ADDRESS) if fam == socket.AF_INET6 else (a.get(address.IFA_LOCAL) or a.get(address.IFA_ADDRESS))
        rec = {
            'address': '%s/%d' % (ip_text(fam, raw), plen),
            'link': state.link_name(idx),
            'link_index': idx,
            'family': 'inet4' if fam == socket.AF_INET else 'inet6',
            'held': True,
            'managed_by': 'nodenet',
            'protocol': VIP_PROTO,
        }
        out[key(rec)] = rec
    return out


def plan(records, state, ctx):
    observed = state.get(KIND)
    addresses = state.get('address')
    present, absent = base.links_in(ctx, state)
    ops, seen = [], {}
    for where, rec in base.entries(records, SECTION):
        ip = rec['address'].split('/')[0]
        if ip in seen:
            raise ValidationError("VIP %s is declared twice" % ip, v.sub(where, 'address'))
        seen[ip] = True
        k = key(rec)
        obs = observed.get(k)
        if rec['state'] == 'absent':
            if obs is not None and rec['link'] not in absent:
                ops.append(_op('delete', k, before=obs))
            continue
        base.need_link(rec['link'], v.sub(where, 'link'), present, absent)
        for a in addresses.values():
            if a['address'].split('/')[0] == ip and key(a) not in observed:
                raise ValidationError("%s is already on link '%s' as an ordinary address of this node; a VIP must be "
                                      "nobody's own address (remove it first)" % (ip, a['link']), v.sub(where, 'address'))
        for ok, o in observed.items():
            if o['address'].split('/')[0] == ip and ok != k:
                raise ValidationError("VIP %s is held on link '%s'; declare it there or remove it first" % (ip, o['link']),
                                      v.sub(where, 'link'))
        if obs is None:
            ops.append(_op('create', k, after=_clean(rec)))
        elif obs['address'] != rec['address']:
            ops.append(_op('modify', k, before=obs, after=_clean(rec)))
    return ops


_op = base.maker(KIND)


def _clean(rec):
    return dict((k, val) for k, val in rec.items()
                if k in ('address', 'link', 'family', 'announce_count', 'announce_interval') and val is not None)


def _args(nl, rec):
    addr, plen = rec['address'].rsplit('/', 1)
    flags = IFA_F_NOPREFIXROUTE | (IFA_F_NODAD if rec['family'] == 'inet6' else 0)
    return {'index': link_index(nl, rec['link']), 'address': addr, 'prefixlen': int(plen), 'flags': flags,
            'proto': VIP_PROTO}


def _add(nl, rec):
    nl.addr('add', **_args(nl, rec))
    announce(nl, rec)


def _delete(nl, rec):
    if rec.get('family') == 'inet4':
        write_sysctl(nl, 'net/ipv4/conf/%s/promote_secondaries' % rec['link'], 1)
    kw = _args(nl, rec)
    kw.pop('flags')
    kw.pop('proto')
    nl.addr('del', **kw)


def apply(nl, op):
    rec = op['after'] or op['before']
    what = "%s VIP %s on '%s'" % (op['action'], rec['address'], rec['link'])
    try:
        if op['action'] == 'create':
            _add(nl, op['after'])
        elif op['action'] == 'delete':
            _delete(nl, op['before'])
        else:
            _delete(nl, op['before'])
            _add(nl, op['after'])
    except Exception as e:  # noqa: BLE001
        raise explain(e, what)


def inverse(op):
    if op['action'] == 'create':
        return _op('delete', op['key'], before=op['after'])
    if op['action'] == 'delete':
        return _op('create', op['key'], after=_clean(op['before']))
    return _op('modify', op['key'], before=op['after'], after=_clean(op['before']))


def _check(op, obs):
    if obs['address'] != op['after']['address']:
        return "VIP %s is %s, expected %s" % (op['key'], obs['address'], op['after']['address'])
    return None


satisfied = base.presence(KIND, 'VIP', _check)


# ---------------------------------------------------------------- announcing
ETH_P_ARP = 0x0806
ND_NA_FLAG_OVERRIDE = 0x20000000


def announce(nl, rec):
    """Send the announcements for `rec` from inside its namespace; returns how many were sent.

    A link that is down can't send: nothing is sent then (the address is still assigned;
    the next change of holder announces it)."""
    count = rec.get('announce_count', 3)
    if not count:
        return 0
    index = link_index(nl, rec['link'])
    mac = linkdump.one(nl, index).get_attr('IFLA_ADDRESS')
    if not mac or mac == '00:00:00:00:00:00':
        return 0          # no link-layer address (a tunnel, loopback): nothing to announce on
    hw = mac_bytes(mac)
    ip = rec['address'].split('/')[0]
    netns = getattr(nl, 'nodenet_netns', None)
    if rec['family'] == 'inet4':
        sock = in_netns(netns, lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)))
        frame = garp_frame(hw, ip)

        def send():
            sock.send(frame)
        sock.bind((rec['link'], ETH_P_ARP))
    else:
        sock = in_netns(netns, lambda: socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6))
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        sock.bind((ip, 0, 0, 0))
        msg = na_message(hw, ip)

        def send():
            sock.sendto(msg, ('ff02::1', 0, 0, index))
    sent = 0
    try:
        for i in range(count):
            if i:
                time.sleep(rec.get('announce_interval', 0.5))
            try:
                send()
            except OSError as e:
                if e.errno in (errno.ENETDOWN, errno.ENXIO, errno.EADDRNOTAVAIL):
                    break
                raise
            sent += 1
    finally:
        sock.close()
    return sent


def garp_frame(hw, ip):
    """A gratuitous ARP request: broadcast, sender and target protocol address both the VIP."""
    pa = socket.inet_aton(ip)
    arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, hw, pa, b'\x00' * 6, pa)
    frame = b'\xff' * 6 + hw + struct.pack('!H', ETH_P_ARP) + arp
    return frame + b'\x00' * (60 - len(frame))


def na_message(hw, ip):
    """An unsolicited neighbour advertisement (RFC 4861 7.2.6): Override set, Solicited clear, the
    target link-layer address option. The kernel fills in the ICMPv6 checksum."""
    return struct.pack('!BBHI16s', 136, 0, 0, ND_NA_FLAG_OVERRIDE, socket.inet_pton(socket.AF_INET6, ip)) \
        + struct.pack('!BB6s', 2, 1, hw)


# ---------------------------------------------------------------- status (network_info)
def keepalived_vips(text):
    """[(address, link)] of the virtual_ipaddress blocks of a keepalived.conf (a link given with
    `dev` on the line, else the instance's `interface`)."""
    out = []
    interface, depth, vip_depth = None, 0, None

    def emit(entry):
        if entry:
            dev = entry[entry.index('dev') + 1] if 'dev' in entry[:-1] else interface
            out.append((entry[0], dev))

    for line in text.splitlines():
        words = line.split('#')[0].split('!')[0].replace('{', ' { ').replace('}', ' } ').split()
        entry = []
        for j, w in enumerate(words):
            if w == '{':
                depth += 1
                if j and words[j - 1].startswith('virtual_ipaddress'):
                    vip_depth = depth
                elif j > 1 and words[j - 2] == 'vrrp_instance':
                    interface = None
            elif w == '}':
                if vip_depth == depth:
                    emit(entry)
                    entry, vip_depth = [], None
                depth -= 1
            elif vip_depth == depth:
                entry.append(w)
            elif w == 'interface' and j + 1 < len(words) and vip_depth is None:
                interface = words[j + 1]
        if vip_depth is not None:
            emit(entry)
    return out


def status(state, keepalived_conf=None):
    """VipStatus records: the marked addresses (held, managed by nodenet), then the keepalived
    VIPs named in `keepalived_conf`, held or not (held: the address is on the node now)."""
    recs = sorted(state.get(KIND).values(), key=lambda r: (r['link_index'], r['family'], r['address']))
    held = set(r['address'].split('/')[0] for r in recs)
    if keepalived_conf:
        try:
            with open(keepalived_conf) as fh:
                text = fh.read()
        except (IOError, OSError):
            text = ''
        by_ip = {}
        for a in state.get('address').values():
            by_ip.setdefault(a['address'].split('/')[0], a)
        for addr, dev in keepalived_vips(text):
            try:
                iface = ipaddress.ip_interface(addr)
            except ValueError:
                continue
            ip = iface.ip.compressed
            if ip in held:
                continue
            held.add(ip)
            obs = by_ip.get(ip)
            recs.append({'address': obs['address'] if obs else str(iface.with_prefixlen),
                         'link': obs['link'] if obs else dev,
                         'link_index': obs['link_index'] if obs else None,
                         'family': 'inet4' if iface.version == 4 else 'inet6',
                         'held': obs is not None, 'managed_by': 'keepalived', 'protocol': None})
    return recs
