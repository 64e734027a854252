# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two WireGuard backends of kinds/wireguard.py behind one interface (keys and endpoints: ../wg.py).

kernel:    the kernel's WireGuard generic netlink family, through pyroute2.WireGuard.
userspace: the cross-platform UAPI text protocol on /var/run/wireguard/<name>.sock, served by
           wireguard-go (which this module starts, inside the requested namespace). For a named
           namespace the socket is /run/nodenet/wireguard/<netns>/<name>.sock instead: wireguard-go
           runs in a private mount namespace where that directory is bound on /var/run/wireguard, so
           every network namespace can have its own wg0.

Both exchange the *raw* device configurations described in ../wg.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import errno as _errno
import ipaddress
import os
import shutil
import socket
import subprocess
import time

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import KernelError, NodenetError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import in_netns, link_index
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.wg import KEY_LEN, ZERO_KEY, Secret, b64, format_endpoint, split_endpoint

UAPI_DIR = '/var/run/wireguard'
NETNS_UAPI_DIR = '/run/nodenet/wireguard'
WIREGUARD_GO_PATHS = ('/usr/bin/wireguard-go', '/usr/local/bin/wireguard-go', '/usr/sbin/wireguard-go')


# ---------------------------------------------------------------- detection
def kernel_has_wireguard():
    """True when the running kernel has WireGuard loaded, built in, or as a loadable module."""
    if os.path.isdir('/sys/module/wireguard'):
        return True
    release = os.uname()[2]
    for name in ('modules.builtin', 'modules.dep'):
        try:
            with open(os.path.join('/lib/modules', release, name)) as fh:
                for line in fh:
                    if '/wireguard.ko' in line.split(':')[0]:
                        return True
        except (IOError, OSError):
            continue
    return False


def wireguard_go():
    found = shutil.which('wireguard-go')
    if found:
        return found
    for path in WIREGUARD_GO_PATHS:
        if os.access(path, os.X_OK):
            return path
    return None


def uapi_dir(netns=None):
    """Where the UAPI sockets of `netns` are: /var/run/wireguard for the namespace the module runs in (a lab node's
    /run is its own), /run/nodenet/wireguard/<netns> for a named one."""
    return os.path.join(NETNS_UAPI_DIR, netns) if netns else UAPI_DIR


def uapi_path(name, netns=None):
    return os.path.join(uapi_dir(netns), '%s.sock' % name)


def _served(*paths):
    """True when a listening socket bound to one of `paths` was created in this thread's network namespace.

    Unix sockets belong to the namespace they were created in and /proc/thread-self/net/unix lists
    only those of the reader's namespace, so this tells which namespace serves a UAPI socket.
    (SO_PEERCRED can't: it names the process that called listen(), which for wireguard-go is the
    parent that exits after handing the socket to its daemon.) The table shows the path a socket was bound to
    as its process saw it: /var/run/wireguard/<name>.sock for a wireguard-go in a private mount namespace.
    """
    for proc in ('/proc/thread-self/net/unix', '/proc/self/net/unix'):
        try:
            with open(proc) as fh:
                lines = fh.read().splitlines()[1:]
        except (IOError, OSError):
            continue
        for line in lines:
            cols = line.split()
            # Num RefCount Protocol Flags Type St Inode Path; St 01 = listening
            if len(cols) >= 8 and cols[7] in paths and cols[5] == '01':
                return True
        return False
    return False


def _connectable(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(2)
        s.connect(path)
        return True
    except (IOError, OSError):
        return False
    finally:
        s.close()


def uapi_in_netns(name, netns):
    """'here' when <name>'s UAPI socket is served from `netns`, 'elsewhere' from another one, None if not served."""
    path = uapi_path(name, netns)
    if not os.path.exists(path):
        return None
    if in_netns(netns, lambda: _served(path, uapi_path(name))):
        return 'here'
    return 'elsewhere' if _connectable(path) else None


def uapi_served(name, netns=None):
    """True while anything still serves <name>'s UAPI socket (of `netns`)."""
    path = uapi_path(name, netns)
    return os.path.exists(path) and _connectable(path)


def _prune():
    """Remove the empty socket directories of namespaces that no longer exist (a link deleted with `ip link del`, or
    its namespace deleted, leaves its directory behind)."""
    try:
        names = os.listdir(NETNS_UAPI_DIR)
    except OSError:
        return
    for n in names:
        if not os.path.exists(os.path.join('/run/netns', n)):
            try:
                os.rmdir(os.path.join(NETNS_UAPI_DIR, n))
            except OSError:
                pass


# ---------------------------------------------------------------- kernel backend
class KernelBackend(object):
    """WireGuard generic netlink, through pyroute2. Every call runs inside the namespace."""
    name = 'kernel'

    def __init__(self, netns):
        self.netns = netns

    def _call(self, func):
        try:
            from pyroute2 import WireGuard as _GenlWireGuard
        except ImportError:
            raise NodenetError("pyroute2 >= 0.7.3 with WireGuard support is required on the target")

        def run():
            wg = _GenlWireGuard()
            try:
                return func(wg)
            finally:
                wg.close()
        return in_netns(self.netns, run)

    def create(self, nl, name):
        nl.link('add', ifname=name, kind='wireguard')

    def delete(self, nl, name):
        nl.link('del', index=link_index(nl, name))

    def get(self, name):
        msgs = self._call(lambda wg: list(wg.info(name)))
        dev = {'private_key': None, 'listen_port': 0, 'fwmark': 0, 'peers': {}}
        for msg in msgs:
            for attr in msg['attrs']:
                key, val = attr[0], attr[1]
                if key == 'WGDEVICE_A_PRIVATE_KEY':
                    raw = _key_bytes(val)
                    dev['private_key'] = Secret(raw) if raw and raw != ZERO_KEY else None
                elif key == 'WGDEVICE_A_LISTEN_PORT':
                    dev['listen_port'] = val
                elif key == 'WGDEVICE_A_FWMARK':
                    dev['fwmark'] = val
                elif key == 'WGDEVICE_A_PEERS':
                    for p in val:
                        self._peer(dev['peers'], p)
        return dev

    @staticmethod
    def _peer(peers, msg):
        pub = None
        fields = {}
        ips = []
        for attr in msg['attrs']:
            key, val = attr[0], attr[1]
            if key == 'WGPEER_A_PUBLIC_KEY':
                pub = _key_bytes(val)
            elif key == 'WGPEER_A_PRESHARED_KEY':
                raw = _key_bytes(val)
                fields['preshared_key'] = Secret(raw) if raw and raw != ZERO_KEY else None
            elif key == 'WGPEER_A_ENDPOINT':
                addr, port = val.get('addr'), val.get('port')
                if port and addr not in (None, '0.0.0.0', '::'):
                    fields['endpoint'] = format_endpoint(addr, port)
            elif key == 'WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL':
                fields['persistent_keepalive_interval'] = val
            elif key == 'WGPEER_A_LAST_HANDSHAKE_TIME':
                fields['latest_handshake'] = val.get('tv_sec') or None
            elif key == 'WGPEER_A_RX_BYTES':
                fields['rx_bytes'] = val
            elif key == 'WGPEER_A_TX_BYTES':
                fields['tx_bytes'] = val
            elif key == 'WGPEER_A_ALLOWEDIPS':
                ips.extend(a.get('addr') for a in val if a.get('addr'))
        if pub is None:
            return
        # A large peer continues in the next message of the dump: merge.
        peer = peers.setdefault(pub, _empty_peer())
        peer.update(fields)
        peer['allowed_ips'].extend(ips)

    def configure(self, name, device=None, set_peers=None, remove_peers=()):
        """device: {'private_key': Secret, 'listen_port': int, 'fwmark': int} (each optional).
        set_peers: {pub: raw peer}: created or replaced (allowed IPs replaced). remove_peers: [pub]."""
        device = device or {}

        def run(wg):
            kw = {}
            if 'private_key' in device:
                kw['private_key'] = b64((device['private_key'] or Secret(ZERO_KEY)).raw)
            if 'listen_port' in device:
                kw['listen_port'] = device['listen_port']
            if 'fwmark' in device:
                kw['fwmark'] = device['fwmark']
            if kw:
                wg.set(name, **kw)
            for pub in remove_peers:
                wg.set(name, peer={'public_key': b64(pub), 'remove': True})
            for pub, p in (set_peers or {}).items():
                spec = {'public_key': b64(pub), 'replace_allowed_ips': True,
                        'preshared_key': b64((p.get('preshared_key') or Secret(ZERO_KEY)).raw),
                        'persistent_keepalive': p.get('persistent_keepalive_interval') or 0,
                        'allowed_ips': list(p.get('allowed_ips') or [])}
                if p.get('endpoint'):
                    spec['endpoint_addr'], spec['endpoint_port'] = split_endpoint(p['endpoint'])
                wg.set(name, peer=spec)
        self._call(run)


def _key_bytes(val):
    """A key attribute as pyroute2 decodes it (base64 bytes, or an nla with 'key') -> raw bytes."""
    if hasattr(val, 'get') and not isinstance(val, (bytes, str)):
        if val.get('key') is not None:
            return val['key']
        val = val.get('value')
    if isinstance(val, str):
        val = val.encode('ascii')
    if val is None:
        return None
    if len(val) == KEY_LEN:
        return val
    return base64.b64decode(val)


def _empty_peer():
    return {'preshared_key': None, 'endpoint': None, 'persistent_keepalive_interval': 0, 'allowed_ips': [],
            'latest_handshake': None, 'rx_bytes': 0, 'tx_bytes': 0}


# ---------------------------------------------------------------- userspace backend
class UapiError(KernelError):
    pass


class UserspaceBackend(object):
    """The UAPI socket protocol (wireguard-go and other userspace implementations)."""
    name = 'userspace'
    START_TIMEOUT = 30

    def __init__(self, netns):
        self.netns = netns

    def _request(self, name, text):
        path = uapi_path(name, self.netns)
        where = uapi_in_netns(name, self.netns)
        if where != 'here':
            why = ("its UAPI socket %s is served from another network namespace" % path if where
                   else "no userspace WireGuard serves %s" % path)
            raise UapiError("WireGuard link '%s': %s" % (name, why), code=_errno.ENODEV)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(10)
            s.connect(path)
            s.sendall(text.encode('ascii'))
            data = b''
            while not data.endswith(b'\n\n'):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        lines = data.decode('ascii', 'replace').split('\n')
        code = None
        for line in lines:
            if line.startswith('errno='):
                code = abs(int(line[6:]))
        if code is None:
            raise UapiError("WireGuard link '%s': no answer on %s" % (name, path), code=_errno.EIO)
        if code:
            raise explain(OSError(code, os.strerror(code)), "configuring userspace WireGuard link '%s' through %s" % (name, path))
        return [line for line in lines if line and not line.startswith('errno=')]

    def create(self, nl, name):
        binary = wireguard_go()
        if binary is None:
            raise NodenetError("backend 'userspace' needs wireguard-go on the node (Debian/Ubuntu package 'wireguard-go'); "
                               "or use backend 'kernel' where the kernel has WireGuard")
        if uapi_in_netns(name, self.netns) == 'elsewhere':
            raise NodenetError("a userspace WireGuard link '%s' already runs in another network namespace: its UAPI socket "
                               "%s is per name, so use another name" % (name, uapi_path(name, self.netns)))
        # Without LOG_LEVEL the daemon's stdout and stderr are /dev/null: it must not hold our pipe open.
        env = dict((k, val) for k, val in os.environ.items()
                   if k not in ('LOG_LEVEL', 'WG_PROCESS_FOREGROUND', 'WG_TUN_FD', 'WG_UAPI_FD'))

        cmd = [binary, name]
        if self.netns:
            # wireguard-go always listens in /var/run/wireguard: give it this namespace's own directory there, in a
            # private mount namespace (without the copies of /run/netns and of the lab's bound namespaces, which would
            # keep other namespaces alive).
            sockdir = uapi_dir(self.netns)
            _prune()
            for d in (UAPI_DIR, sockdir):
                os.makedirs(d, mode=0o755, exist_ok=True)
            cmd = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
                   'umount -R -l /run/netns 2>/dev/null; umount -R -l /run/nodenet/ns 2>/dev/null; '
                   'mount --bind "$1" %s && exec "$2" "$3"' % UAPI_DIR,
                   'sh', sockdir, binary, name]

        def start():
            # The engine runs without an AnsibleModule (tests, the network module's plan), so no run_command;
            # forked from this thread inside the namespace, wireguard-go creates its TUN link there.
            return subprocess.run(  # pylint: disable=ansible-bad-function
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                env=env, timeout=self.START_TIMEOUT, check=False)
        p = in_netns(self.netns, start)
        if p.returncode != 0:
            err = [line for line in p.stderr.decode('utf-8', 'replace').splitlines() if line.strip() and not line.startswith(('\u2502', '\u250c', '\u2514'))]
            raise NodenetError("wireguard-go could not create link '%s' (exit status %d): %s"
                               % (name, p.returncode, '; '.join(err[-3:]) or 'no message'))
        for dummy in range(100):
            if uapi_in_netns(name, self.netns) == 'here' and nl.link_lookup(ifname=name):
                return
            time.sleep(0.05)
        raise NodenetError("wireguard-go started for '%s' but its link or UAPI socket did not appear" % name)

    def delete(self, nl, name):
        """Deleting the TUN link makes wireguard-go exit; wait until its socket is gone."""
        nl.link('del', index=link_index(nl, name))
        for dummy in range(100):
            if not uapi_served(name, self.netns):
                break
            time.sleep(0.05)
        if self.netns:
            try:
                os.rmdir(uapi_dir(self.netns))     # only when no other link of the namespace has a socket there
            except OSError:
                pass

    def get(self, name):
        dev = {'private_key': None, 'listen_port': 0, 'fwmark': 0, 'peers': {}}
        peer = None
        for line in self._request(name, 'get=1\n\n'):
            key, dummy, val = line.partition('=')
            if key == 'public_key':
                peer = dev['peers'].setdefault(binascii.unhexlify(val), _empty_peer())
            elif peer is None:
                if key == 'private_key':
                    raw = binascii.unhexlify(val)
                    dev['private_key'] = Secret(raw) if raw != ZERO_KEY else None
                elif key in ('listen_port', 'fwmark'):
                    dev[key] = int(val)
            elif key == 'preshared_key':
                raw = binascii.unhexlify(val)
                peer['preshared_key'] = Secret(raw) if raw != ZERO_KEY else None
            elif key == 'endpoint':
                host, port = split_endpoint(val)
                peer['endpoint'] = format_endpoint(str(ipaddress.ip_address(host.split('%')[0])), port)
            elif key == 'persistent_keepalive_interval':
                peer[key] = int(val)
            elif key == 'last_handshake_time_sec':
                peer['latest_handshake'] = int(val) or None
            elif key in ('rx_bytes', 'tx_bytes'):
                peer[key] = int(val)
            elif key == 'allowed_ip':
                peer['allowed_ips'].append(val)
        return dev

    def configure(self, name, device=None, set_peers=None, remove_peers=()):
        device = device or {}
        lines = ['set=1']
        if 'private_key' in device:
            lines.append('private_key=%s' % _hex((device['private_key'] or Secret(ZERO_KEY)).raw))
        if 'listen_port' in device:
            lines.append('listen_port=%d' % device['listen_port'])
        if 'fwmark' in device:
            lines.append('fwmark=%d' % device['fwmark'])
        for pub in remove_peers:
            lines += ['public_key=%s' % _hex(pub), 'remove=true']
        for pub, p in (set_peers or {}).items():
            lines += ['public_key=%s' % _hex(pub),
                      'preshared_key=%s' % _hex((p.get('preshared_key') or Secret(ZERO_KEY)).raw),
                      'persistent_keepalive_interval=%d' % (p.get('persistent_keepalive_interval') or 0),
                      'replace_allowed_ips=true']
            if p.get('endpoint'):
                lines.append('endpoint=%s' % p['endpoint'])
            lines += ['allowed_ip=%s' % ip for ip in p.get('allowed_ips') or []]
        if len(lines) > 1:
            self._request(name, '\n'.join(lines) + '\n\n')


def _hex(raw):
    return binascii.hexlify(raw).decode('ascii')


BACKENDS = {'kernel': KernelBackend, 'userspace': UserspaceBackend}


def backend(name, netns):
    return BACKENDS[name](netns)
