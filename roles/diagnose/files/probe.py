# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diagnose role's evidence from one node, gathered in one run (ansible.builtin.script).

Run as `python3 probe.py ARG`; ARG: base64 of a JSON object {dns_servers, dns_name, paths: [{node, via, address, family, size}],
api: [{node, address, port}], timeout}. Prints one JSON object:
  default_routes  [{family, gateway, dev, answers, error}]   (ip -j route; ping to each gateway)
  dns             [{server, name, answers, rcode, answer_count, ms, error}]   (a real UDP query)
  paths           [{node, via, address, family, size, reach, df_ok, largest, error}]   (ping, then ping -M do)
  api             [{node, address, port, result}]   (TCP connect: open, refused, timeout, unreachable)
  nft, iptables   the ruleset text (nft list ruleset; iptables-save, when installed)
Every probe runs at once in its own thread; each waits at most a few seconds. Python 3 standard library only.
"""
import base64
import errno
import json
import random
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

RCODES = {0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED'}


def run(argv, timeout=10):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout,
                           check=False)
        return p.returncode, p.stdout, p.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, '', str(e)


def ping(address, family, size=None, df=False, wait=1):
    argv = ['ping', '-n', '-q', '-c', '1', '-W', str(wait)] + (['-6'] if family == 6 else ['-4'])
    if df:
        argv += ['-M', 'do']
    if size is not None:
        argv += ['-s', str(size)]
    rc, out, err = run(argv + [address], timeout=wait + 5)
    return rc == 0, err


def default_routes(timeout):
    out = []
    for family in (4, 6):
        rc, text, err = run(['ip', '-j', '-%d' % family, 'route', 'show', 'default'])
        try:
            routes = json.loads(text) if rc == 0 and text.strip() else []
        except ValueError:
            routes = []
        for r in routes:
            item = {'family': family, 'gateway': r.get('gateway'), 'dev': r.get('dev'), 'answers': None, 'error': None}
            if r.get('gateway'):
                for dummy in range(3):
                    ok, err = ping(r['gateway'], family, wait=timeout)
                    if ok:
                        break
                item['answers'] = ok
                item['error'] = None if ok else (err or 'no reply')
            out.append(item)
    return out


def dns_query(server, name, timeout):
    qid = random.randint(0, 0xffff)
    q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    q += b''.join(struct.pack('B', len(p)) + p.encode('idna') for p in name.strip('.').split('.')) + b'\x00'
    q += struct.pack('>HH', 1, 1)       # A, IN
    fam = socket.AF_INET6 if ':' in server else socket.AF_INET
    item = {'server': server, 'name': name, 'answers': False, 'rcode': None, 'answer_count': 0, 'ms': None, 'error': None}
    for dummy in range(2):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        t0 = time.time()
        try:
            s.sendto(q, (server, 53))
            while True:
                data = s.recv(4096)
                if len(data) >= 12 and struct.unpack('>H', data[:2])[0] == qid:
                    break
            flags, ancount = struct.unpack('>H', data[2:4])[0], struct.unpack('>H', data[6:8])[0]
            item.update(answers=True, rcode=RCODES.get(flags & 0xf, str(flags & 0xf)), answer_count=ancount,
                        ms=int((time.time() - t0) * 1000), error=None)
            return item
        except socket.timeout:
            item['error'] = 'no answer within %ss' % timeout
        except OSError as e:
            item['error'] = e.strerror or str(e)
        finally:
            s.close()
    return item


def path(t, timeout):
    item = dict(t, reach=False, df_ok=None, largest=None, error=None)
    for dummy in range(3):
        ok, err = ping(t['address'], t['family'], wait=timeout)
        if ok:
            break
    item['reach'] = ok
    if not ok:
        item['error'] = err or 'no reply'
        return item
    for dummy in range(2):
        ok, err = ping(t['address'], t['family'], size=t['size'], df=True, wait=timeout)
        if ok:
            break
    item['df_ok'] = ok
    if ok:
        item['largest'] = t['size']
        return item
    item['error'] = err or 'no reply'
    lo, hi = 0, t['size'] - 1          # the largest payload that still crosses with DF set
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ping(t['address'], t['family'], size=mid, df=True, wait=1)[0]:
            lo = mid
        else:
            hi = mid - 1
    item['largest'] = lo
    return item


def api(t, timeout):
    item = dict(t, result=None)
    fam = socket.AF_INET6 if ':' in t['address'] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((t['address'], int(t['port'])))
        item['result'] = 'open'
    except socket.timeout:
        item['result'] = 'timeout'
    except OSError as e:
        item['result'] = {errno.ECONNREFUSED: 'refused'}.get(e.errno, 'unreachable')
        item['error'] = e.strerror
    finally:
        s.close()
    return item


def main():
    args = json.loads(base64.b64decode(sys.argv[1]).decode('utf-8')) if len(sys.argv) > 1 else {}
    timeout = int(args.get('timeout') or 2)
    out = {'dns': [None] * len(args.get('dns_servers') or []), 'paths': [None] * len(args.get('paths') or []),
           'api': [None] * len(args.get('api') or [])}
    jobs = []

    def job(key, index, fn, *a):
        def go():
            if index is None:
                out[key] = fn(*a)
            else:
                out[key][index] = fn(*a)
        th = threading.Thread(target=go)
        th.start()
        jobs.append(th)

    job('default_routes', None, default_routes, timeout)
    for i, server in enumerate(args.get('dns_servers') or []):
        job('dns', i, dns_query, server, args.get('dns_name') or 'kubernetes.io', timeout)
    for i, t in enumerate(args.get('paths') or []):
        job('paths', i, path, t, timeout)
    for i, t in enumerate(args.get('api') or []):
        job('api', i, api, t, timeout)
    rc, text, err = run(['nft', 'list', 'ruleset'])
    out['nft'] = text if rc == 0 else None
    out['nft_error'] = None if rc == 0 else err
    out['iptables'] = None
    if shutil.which('iptables-save'):
        rc, text, err = run(['iptables-save'])
        out['iptables'] = text if rc == 0 else None
    for th in jobs:
        th.join()
    print(json.dumps(out))


if __name__ == '__main__':
    main()
