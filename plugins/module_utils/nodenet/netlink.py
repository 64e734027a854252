# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening netlink (optionally inside a named network namespace)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import socket
import struct

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NetnsError, explain

# pyroute2 is imported when a call first needs it (Netlink below): the package imports nearly all
# of itself, about half of a module's start-up, and a call that only reads (the engine decodes the
# link, address and route dumps itself) or changes nothing never needs it.
try:
    from importlib.util import find_spec
    HAS_PYROUTE2 = find_spec('pyroute2') is not None
except ImportError:  # pragma: no cover
    HAS_PYROUTE2 = True

NETNS_DIR = '/var/run/netns'


def netns_path(netns):
    if not netns:
        return None
    if '/' in netns:
        return netns
    return os.path.join(NETNS_DIR, netns)


def check_netns(netns, field='netns'):
    """Fail clearly if the namespace does not exist; never create it."""
    path = netns_path(netns)
    if path and not os.path.exists(path):
        raise NetnsError("network namespace '%s' does not exist (no %s); create it first, e.g. 'ip netns add %s'"
                         % (netns, path, netns), field)
    if path:
        what = _ns_type(path)
        if what is not None:
            raise NetnsError("'%s' (%s) is %s, not a network namespace; give a name made by 'ip netns add' or the path "
                             "of a namespace file such as /proc/<pid>/ns/net" % (netns, path, what), field)
    return path


NS_GET_NSTYPE = 0xb703


def _ns_type(path):
    """None when `path` is a network namespace; else what it is instead (for the message)."""
    import fcntl
    if os.path.isdir(path):
        return 'a directory'
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        return 'not readable (%s)' % e.strerror
    try:
        kind = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except (IOError, OSError):
        return 'a plain file' if os.path.isfile(path) else 'not a namespace file'
    finally:
        os.close(fd)
    return None if kind == CLONE_NEWNET else 'another kind of namespace'


CLONE_NEWNET = 0x40000000


def _setns(fd):
    if hasattr(os, 'setns'):
        os.setns(fd, CLONE_NEWNET)
        return
    import ctypes
    import ctypes.util
    libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def in_netns(netns, func):
    """Call func() with this thread inside `netns`, then return to where it was.

    Sockets keep the namespace they were created in, so a netlink socket opened
    here works on `netns` afterwards. Unlike pyroute2's own netns option this
    needs no helper process (one fork per socket), and it never creates a
    namespace: a missing one fails in check_netns().
    """
    if not netns:
        return func()
    path = check_netns(netns)
    own = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
    try:
        target = os.open(path, os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            return func()
        finally:
            _setns(own)
    finally:
        os.close(own)


_SETUP = []


def on_pyroute2(func):
    """Run func() (a kind teaching pyroute2's decoder something) once pyroute2 is first used."""
    _SETUP.append(func)


def pyroute2_ready():
    """Called by whatever is about to use pyroute2: runs the on_pyroute2() functions once."""
    while _SETUP:
        _SETUP.pop(0)()


class Netlink(object):
    """The netlink handle of one call in one namespace. The engine's own readers and batches use
    only its namespace (plain sockets, opened per request); anything else (nl.link(...),
    nl.get_vlans() ...) goes to a pyroute2 IPRoute opened in that namespace on first use."""

    def __init__(self, netns=None):
        self.nodenet_netns = netns
        self._ipr = None

    def __getattr__(self, name):
        if name.startswith('nodenet_') or name.startswith('__') or name == '_ipr':
            raise AttributeError(name)
        if self._ipr is None:
            self._ipr = _iproute(self.nodenet_netns)
        return getattr(self._ipr, name)

    def close(self):
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None


def _iproute(netns):
    try:
        from pyroute2 import IPRoute
    except ImportError as e:  # pragma: no cover - open_netlink checked that it is there
        raise NetnsError("the Python library pyroute2 (>= 0.7.3) is required on the target: %s" % e)
    pyroute2_ready()
    try:
        return in_netns(netns, IPRoute)
    except NetnsError:
        raise
    except Exception as e:  # noqa: BLE001 - translated below
        raise explain(e, "opening netlink in namespace '%s'" % (netns or 'host'))


def open_netlink(netns=None):
    if not HAS_PYROUTE2:
        raise NetnsError("the Python library pyroute2 (>= 0.7.3) is required on the target: it is not installed")
    check_netns(netns)
    return Netlink(netns)


def write_sysctl(nl, path, value):
    """Write /proc/sys/<path> inside the namespace `nl` works on."""
    def write():
        with open('/proc/sys/' + path, 'w') as fh:
            fh.write(str(value))
    in_netns(getattr(nl, 'nodenet_netns', None), write)


def read_sysctl(nl, path):
    """/proc/sys/<path> inside the namespace `nl` works on, stripped; None when it does not exist."""
    def read():
        try:
            with open('/proc/sys/' + path) as fh:
                return fh.read().strip()
        except (IOError, OSError):
            return None
    return in_netns(getattr(nl, 'nodenet_netns', None), read)


def link_index(nl, name):
    """ifindex of the link called `name`, or a KernelError (ENODEV) naming it.

    Cached per socket (one lookup per link, not per address or route); forget_links() after
    creating or removing links."""
    cache = getattr(nl, 'nodenet_ifindex', None)
    if cache is None:
        cache = nl.nodenet_ifindex = {}
    if name in cache:
        return cache[name]
    request = IFINFOMSG.pack(0, 0, 0, 0, 0) + nla_text(IFLA_IFNAME, name)
    try:
        found = dump(nl, RTM_GETLINK, request, one=True)
    except OSError as e:
        if e.errno != errno.ENODEV:
            raise
        found = None
    if not found:
        raise explain(OSError(19, 'No such device'), "looking up link '%s'" % name)
    cache[name] = struct.unpack_from('=i', found[0], 4)[0]
    return cache[name]


def forget_links(nl):
    nl.nodenet_ifindex = {}
    nl.nodenet_promoted = set()   # a link recreated under the same name has its sysctls reset


NETLINK_ROUTE = 0
IFLA_IFNAME = 3
IFINFOMSG = struct.Struct('=BxHiII')     # struct ifinfomsg: family, type, index, flags, change
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
BATCH_BYTES = 65536
BATCH_COUNT = 200     # acks are charged at their skb size (~1 KiB) against the receive buffer
SO_RCVBUFFORCE = 33
SOL_NETLINK, NETLINK_CAP_ACK = 270, 10


class Request(object):
    """A request the engine encoded itself: message type, flags (NLM_F_ACK included) and body (the
    fixed header, then attributes made with nla()); netlink.batch() adds the netlink header."""

    __slots__ = ('mtype', 'flags', 'body')

    def __init__(self, mtype, flags, body):
        self.mtype, self.flags, self.body = mtype, flags, body


def nla(atype, payload):
    """One netlink attribute: header, payload, padding to 4 bytes."""
    return struct.pack('=HH', 4 + len(payload), atype) + payload + b'\0' * (-len(payload) % 4)


def batch(nl, msgs):
    """Send many requests the way `ip -batch` does: Requests, or encoded pyroute2 messages (header
    type and flags set, NLM_F_ACK included), packed into a few sendmsg() calls on a plain netlink socket in
    the namespace `nl` works on. The kernel handles them in order and acks each one.

    Returns one code per message, in order: 0 (done) or the errno the kernel refused it with.
    """
    sock = in_netns(getattr(nl, 'nodenet_netns', None),
                    lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE))
    codes = [None] * len(msgs)
    try:
        sock.bind((0, 0))
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 22)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        try:
            sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)   # errors without a copy of the request
        except OSError:
            pass
        encoded = []
        for i, m in enumerate(msgs):
            if isinstance(m, Request):
                encoded.append(struct.pack('=IHHII', 16 + len(m.body), m.mtype, m.flags, i + 1, 0) + m.body)
                continue
            m['header']['sequence_number'] = i + 1
            m['header']['pid'] = 0
            m.encode()
            encoded.append(bytes(m.data))
        start = 0
        while start < len(msgs):
            data, seqs, size = [], {}, 0
            while start < len(msgs) and len(data) < BATCH_COUNT and (not data or size + len(encoded[start]) <= BATCH_BYTES):
                data.append(encoded[start])
                seqs[start + 1] = start
                size += len(encoded[start])
                start += 1
            sock.send(b''.join(data))
            while seqs:
                buf = sock.recv(1 << 20)
                off = 0
                while off + 16 <= len(buf):
                    length, mtype, dummy, seq, dummy = struct.unpack_from('=IHHII', buf, off)
                    if mtype == NLMSG_ERROR and seq in seqs:
                        codes[seqs.pop(seq)] = -struct.unpack_from('=i', buf, off + 16)[0]
                    off += (length + 3) & ~3
                    if length == 0:
                        break
    finally:
        sock.close()
    return codes


RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE = 18, 22, 26
NLM_F_DUMP = 0x300
NLMSG_DONE = 3
NETLINK_GET_STRICT_CHK = 12
NLA_TYPE_MASK = 0x3fff


def dump(nl, mtype, header, strict=False, one=False):
    """A netlink dump (RTM_GETADDR, RTM_GETROUTE) on a plain socket in the namespace `nl` works on,
    returned undecoded: [message body bytes] (the fixed header, then attributes; see attrs()).

    Decoding only the fields a status record needs is several times faster than pyroute2's
    generic decoder, which matters when a node has thousands of routes. header: the request's
    fixed header (family and, with strict=True, the kernel-side filter: a table, a link index);
    the kernel applies the filter only when strict checking is on (Linux >= 4.20); the caller
    filters again, so an older kernel just returns more. one=True: a plain request for one
    object (the header names it) instead of a dump; its reply, or the kernel's error."""
    sock = in_netns(getattr(nl, 'nodenet_netns', None),
                    lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE))
    out = []
    try:
        sock.bind((0, 0))
        if strict:
            try:
                sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
            except OSError:
                pass
        flags = NLM_F_REQUEST | (NLM_F_ACK if one else NLM_F_DUMP)
        sock.send(struct.pack('=IHHII', 16 + len(header), mtype, flags, 1, 0) + header)
        while True:
            buf = sock.recv(1 << 20)
            off = 0
            while off + 16 <= len(buf):
                length, t = struct.unpack_from('=IH', buf, off)
                if length < 16:
                    return out
                if t == NLMSG_DONE:
                    return out
                if t == NLMSG_ERROR:
                    code = -struct.unpack_from('=i', buf, off + 16)[0]
                    if code:
                        raise OSError(code, os.strerror(code))
                    if one:
                        return out
                else:
                    out.append(buf[off + 16:off + length])
                off += (length + 3) & ~3
    finally:
        sock.close()


def attrs(data, off):
    """{attribute type: value bytes} of the netlink attributes in data[off:]."""
    out = {}
    end = len(data)
    while off + 4 <= end:
        alen, atype = struct.unpack_from('=HH', data, off)
        if alen < 4:
            break
        out[atype & NLA_TYPE_MASK] = data[off + 4:off + alen]
        off += (alen + 3) & ~3
    return out


def ip_text(family, raw):
    """An address attribute as text (IPv6 compressed, like pyroute2 and iproute2 print it)."""
    return socket.inet_ntop(family, raw)


def u32(raw):
    return struct.unpack('=I', raw[:4])[0]


def nla_text(atype, text):
    """A NUL-terminated string attribute (a link name, a kind, a label): the encoding c_string() reads."""
    return nla(atype, text.encode('utf-8') + b'\0')


def mac_bytes(text):
    """A MAC address as text ('02:00:00:aa:bb:cc') as its six bytes."""
    return bytes(bytearray(int(x, 16) for x in text.split(':')))


def c_string(raw):
    """A NUL-terminated string attribute (a link name, an alias, a label) as text."""
    return raw.split(b'\0', 1)[0].decode('utf-8', 'replace')
