# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health gate's probe on one node: does every target answer an ICMP echo before the time is up?

Run as `python3 gate.py ARG` (ansible.builtin.script); ARG: base64 of a JSON object
{"timeout": seconds, "interval": seconds (optional, default 1), "targets": ["<node> <via> <address>", ...]}.
Prints one line per target, in the order given: `ok <node> <via> <address>` or `FAIL <node> <via> <address>`,
then exits 0 (the role judges the lines).

One process and two raw ICMP sockets (IPv4 and IPv6) serve every target: each round (every second) sends one
echo request to every target that has not answered yet, a few at a time, and reads replies in between; a target
is done at its first reply. So a gate over hundreds of targets costs one process instead of one `ping` per target and try.
Needs root (raw sockets), like the modules. Python 3 standard library only.
"""
import base64
import collections
import errno
import json
import os
import select
import socket
import struct
import sys
import time

ECHO4, REPLY4 = 8, 0
ECHO6, REPLY6 = 128, 129


def checksum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def packet(v6, ident, seq, token):
    payload = b'nodenet-gate' + token
    kind = ECHO6 if v6 else ECHO4
    head = struct.pack('!BBHHH', kind, 0, 0, ident, seq)
    if v6:          # the kernel fills in the ICMPv6 checksum (it covers the IPv6 pseudo-header)
        return head + payload
    return struct.pack('!BBHHH', kind, 0, checksum(head + payload), ident, seq) + payload


def probe(targets, timeout, interval=1.0, burst=8, gap=0.02):
    """The indexes (into targets) of the targets that answered within timeout seconds.

    Every `interval` seconds each unanswered target gets one echo request, sent `burst` at a time with `gap` seconds
    between bursts, so a node does not put hundreds of requests (and as many ARP/NDP lookups) on the wire at one
    instant. (The losses a 50-node lab showed were this machine's shared neighbour table, not the burst: see the
    lab role's README, "How many nodes".)
    """
    ident = os.getpid() & 0xffff
    token = os.urandom(8)
    socks = {}
    for v6, fam, proto in ((False, socket.AF_INET, socket.IPPROTO_ICMP), (True, socket.AF_INET6, socket.IPPROTO_ICMPV6)):
        if any((':' in t[2]) == v6 for t in targets):
            socks[v6] = socket.socket(fam, socket.SOCK_RAW, proto)
            socks[v6].setblocking(False)
    wanted = [socket.inet_pton(socket.AF_INET6 if ':' in t[2] else socket.AF_INET, t[2]) for t in targets]
    answered = set()
    queue = collections.deque()
    now = time.monotonic()
    end = now + timeout
    next_round = now
    while len(answered) < len(targets) and now < end:
        if not queue and now >= next_round:
            queue.extend(i for i in range(len(targets)) if i not in answered)
            next_round = now + interval
        sent = 0
        while queue and sent < burst:
            i = queue.popleft()
            if i in answered:
                continue
            v6 = ':' in targets[i][2]
            sent += 1
            try:
                socks[v6].sendto(packet(v6, ident, i + 1, token), (targets[i][2], 0))
            except OSError as e:   # no route yet, neighbour unresolved, buffer full: try again next round
                if e.errno not in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EAGAIN, errno.ENOBUFS, errno.EADDRNOTAVAIL,
                                   errno.EPERM, errno.EACCES, errno.EINVAL):
                    raise
        until = min(end, now + gap if queue else next_round)
        while len(answered) < len(targets):
            left = until - time.monotonic()
            if left <= 0:
                break
            for s in select.select(list(socks.values()), [], [], left)[0]:
                receive(s, ident, token, wanted, answered)
        now = time.monotonic()
    for s in socks.values():
        s.close()
    return answered


def receive(s, ident, token, wanted, answered):
    """Read every datagram waiting on raw socket s; mark the targets whose echo reply it holds."""
    v6 = s.family == socket.AF_INET6
    while True:
        try:
            data, src = s.recvfrom(2048)
        except (BlockingIOError, InterruptedError):
            return
        if not v6:
            data = data[(data[0] & 0x0f) * 4:]      # a raw IPv4 socket hands over the IP header too
        if len(data) < 8:
            continue
        kind, _code, _sum, rid, seq = struct.unpack('!BBHHH', data[:8])
        if kind != (REPLY6 if v6 else REPLY4) or rid != ident or not data[8:].endswith(token):
            continue
        i = seq - 1
        if 0 <= i < len(wanted) and socket.inet_pton(s.family, src[0].split('%')[0]) == wanted[i]:
            answered.add(i)


def main():
    arg = json.loads(base64.b64decode(sys.argv[1]).decode('utf-8'))
    targets = [tuple(t.split()) for t in arg['targets']]
    for t in targets:
        if len(t) != 3:
            sys.exit('gate.py: a target is "<node> <via> <address>", got %r' % (' '.join(t),))
    answered = probe(targets, float(arg['timeout']), float(arg.get('interval', 1.0))) if targets else set()
    for i, t in enumerate(targets):
        print('%s %s %s %s' % ('ok' if i in answered else 'FAIL', t[0], t[1], t[2]))


if __name__ == '__main__':
    main()
