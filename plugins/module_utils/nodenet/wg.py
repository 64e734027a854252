# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""WireGuard keys and endpoints: parsing, deriving, key files, secrets that never print.

The two backends (kernel and wireguard-go) are beside their kind: kinds/wireguard_backends.py.
The backends exchange *raw* device configurations:
  {'private_key': Secret|None, 'listen_port': int, 'fwmark': int,
   'peers': {public_key_bytes: {'preshared_key': Secret|None, 'endpoint': 'ip:port'|None,
                                'persistent_keepalive_interval': int, 'allowed_ips': [cidr],
                                'latest_handshake': int|None, 'rx_bytes': int, 'tx_bytes': int}}}
Secrets are wrapped in Secret, whose str()/repr() never show the key: such a dict can be kept
in memory (the rollback journal) but printing it by mistake shows '<redacted>'.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import errno as _errno
import hashlib
import hmac
import ipaddress
import os
import socket

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError, ValidationError

KEY_LEN = 32
ZERO_KEY = b'\0' * KEY_LEN
# Per-process salt of the fingerprints shown instead of secrets: a fingerprint tells "set" and
# "changed" apart within one run and says nothing about the key itself.
_SALT = os.urandom(16)


class Secret(object):
    """32 key bytes that never print themselves."""
    __slots__ = ('raw',)

    def __init__(self, raw):
        self.raw = raw

    def __repr__(self):
        return '<redacted>'

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, Secret) and hmac.compare_digest(self.raw, other.raw)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None

    def fingerprint(self):
        return fingerprint(self.raw)


def fingerprint(raw):
    """What records, diffs and network_info show for a secret key: never the key."""
    if raw is None:
        return None
    return '<redacted:%s>' % hmac.new(_SALT, raw, hashlib.sha256).hexdigest()[:8]


# ---------------------------------------------------------------- keys
def parse_key(value, field, what='key'):
    """base64 text -> 32 raw bytes, or a ValidationError that never echoes the value."""
    if isinstance(value, bytes):
        value = value.decode('ascii', 'replace')
    if not isinstance(value, str):
        raise ValidationError("a WireGuard %s must be a string (base64 of 32 bytes, as 'wg genkey' prints)" % what, field)
    text = value.strip()
    try:
        raw = base64.b64decode(text.encode('ascii'), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ValidationError("is not a valid WireGuard %s: expected 44 characters of base64 encoding 32 bytes "
                              "(as 'wg genkey' prints); got %d characters that are not valid base64 (value not shown)"
                              % (what, len(text)), field)
    if len(raw) != KEY_LEN:
        raise ValidationError("is not a valid WireGuard %s: it decodes to %d bytes, a key is exactly 32 bytes "
                              "(44 base64 characters; value not shown)" % (what, len(raw)), field)
    return raw


def b64(raw):
    return base64.b64encode(raw).decode('ascii')


def _crypto():
    """(serialization, X25519PrivateKey) from `cryptography`, imported on first use: it is the engine's
    heaviest import (about half of its start-up) and only a key to derive or generate needs it."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    except ImportError:
        raise NodenetError("the Python library 'cryptography' is required on the target to derive WireGuard public keys")
    return serialization, X25519PrivateKey


def public_key(private_raw):
    """X25519 public key of a private key (both raw 32 bytes)."""
    serialization, X25519PrivateKey = _crypto()
    priv = X25519PrivateKey.from_private_bytes(private_raw)
    return priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def generate_private_key():
    serialization, X25519PrivateKey = _crypto()
    return X25519PrivateKey.generate().private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                     serialization.NoEncryption())


def read_key_file(path, field):
    """The private key stored in `path` (as 'wg genkey' writes it); None when the file is missing."""
    try:
        with open(path, 'rb') as fh:
            data = fh.read(1024)
    except (IOError, OSError) as e:
        if e.errno == _errno.ENOENT:
            return None
        raise ValidationError("can't read the key file '%s': %s" % (path, os.strerror(e.errno or 0)), field)
    return parse_key(data.decode('ascii', 'replace'), field, 'private key (in %s)' % path)


def write_key_file(path, raw):
    """Create `path` with the key, mode 0600, never overwriting an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (b64(raw) + '\n').encode('ascii'))
        os.fsync(fd)
    except Exception:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


# ---------------------------------------------------------------- endpoints
def parse_endpoint(value, field):
    """'host:port' or '[v6]:port' -> 'ip:port' / '[ip]:port' with the host resolved to an address."""
    text = str(value).strip()
    if text.startswith('['):
        host, sep, port = text[1:].partition(']:')
        if not sep:
            raise ValidationError("'%s' is not an endpoint: write an IPv6 address as [address]:port" % value, field)
    else:
        host, sep, port = text.rpartition(':')
        if not sep or ':' in host:
            raise ValidationError("'%s' is not an endpoint: expected host:port, or [IPv6 address]:port" % value, field)
    try:
        portnum = int(port)
    except ValueError:
        portnum = -1
    if not 1 <= portnum <= 65535:
        raise ValidationError("'%s' has no valid port: expected 1-65535 after the last ':'" % value, field)
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, portnum, 0, socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError) as e:
            raise ValidationError("host '%s' of endpoint '%s' does not resolve (%s)" % (host, value, e), field)
        addr = ipaddress.ip_address(infos[0][4][0].split('%')[0])
    return format_endpoint(str(addr), portnum)


def format_endpoint(addr, port):
    return ('[%s]:%d' if ':' in addr else '%s:%d') % (addr, port)


def split_endpoint(text):
    if text.startswith('['):
        host, dummy, port = text[1:].partition(']:')
    else:
        host, dummy, port = text.rpartition(':')
    return host, int(port)
