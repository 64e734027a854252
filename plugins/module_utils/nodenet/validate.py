# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validators shared by every kind. Each raises ValidationError naming the field."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import ipaddress
import re

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError

try:
    text_type = unicode  # noqa: F821  (Python 2 guard for ansible-test compile checks)
except NameError:
    text_type = str

_MAC = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
_IFNAME_BAD = re.compile(r'[\s/:]')

MTU_MIN, MTU_MAX = 68, 65535

ROUTE_TABLES = {'main': 254, 'local': 255, 'default': 253}


def ifname(value, field):
    if not isinstance(value, (str, text_type)) or not value:
        raise ValidationError("a link name is required (a string of 1-15 characters)", field)
    if len(value.encode('utf-8')) > 15:
        raise ValidationError("link name '%s' is longer than 15 bytes (IFNAMSIZ)" % value, field)
    if value in ('.', '..') or _IFNAME_BAD.search(value):
        raise ValidationError("link name '%s' is invalid: no whitespace, '/' or ':' and not '.' or '..'" % value, field)
    return value


def integer(value, field, lo, hi):
    if isinstance(value, bool):
        raise ValidationError("must be an integer between %d and %d, got a boolean" % (lo, hi), field)
    try:
        ivalue = int(value)
    except (TypeError, ValueError):
        raise ValidationError("must be an integer between %d and %d, got '%s'" % (lo, hi, value), field)
    if str(ivalue) != str(value).strip() and not isinstance(value, int):
        raise ValidationError("must be an integer between %d and %d, got '%s'" % (lo, hi, value), field)
    if not lo <= ivalue <= hi:
        raise ValidationError("%d is out of range: allowed %d-%d" % (ivalue, lo, hi), field)
    return ivalue


def mtu(value, field):
    return integer(value, field, MTU_MIN, MTU_MAX)


def mac(value, field):
    v = str(value).strip().lower().replace('-', ':')
    if not _MAC.match(v):
        raise ValidationError("'%s' is not a MAC address (expected six hex pairs like 02:00:00:aa:bb:cc)" % value, field)
    if int(v[:2], 16) & 1:
        raise ValidationError("'%s' is a multicast MAC address; a link needs a unicast one" % value, field)
    return v


# Parsed addresses, kept: a node's state names the same addresses and gateways many times (declared,
# observed, checked), and ipaddress's parsing was the largest part of planning 10,000 of them.
# The objects are immutable; an invalid text raises each time (exceptions are not cached).
parse_address = functools.lru_cache(maxsize=1 << 16)(ipaddress.ip_address)
parse_interface = functools.lru_cache(maxsize=1 << 16)(ipaddress.ip_interface)
parse_network = functools.lru_cache(maxsize=1 << 16)(ipaddress.ip_network)


def ip(value, field, family=None):
    try:
        addr = parse_address(text_type(value).strip())
    except ValueError:
        raise ValidationError("'%s' is not an IPv4 or IPv6 address" % value, field)
    if family and addr.version != family:
        raise ValidationError("'%s' is IPv%d but IPv%d is required here" % (value, addr.version, family), field)
    return addr


def interface(value, field):
    """'10.0.0.1/24' -> ipaddress.ip_interface; the prefix length is required."""
    s = text_type(value).strip()
    if '/' not in s:
        raise ValidationError("'%s' needs a prefix length in CIDR form, e.g. 192.0.2.10/24 or 2001:db8::10/64" % value, field)
    try:
        return parse_interface(s)
    except ValueError:
        raise ValidationError("'%s' is not a valid address in CIDR form (e.g. 192.0.2.10/24 or 2001:db8::10/64)" % value, field)


def network(value, field):
    """A destination prefix; host bits must be zero. 'default' is not handled here."""
    s = text_type(value).strip()
    if '/' not in s:
        addr = ip(s, field)
        s = '%s/%d' % (addr, addr.max_prefixlen)
    try:
        return parse_network(s, strict=True)
    except ValueError as e:
        if 'host bits' in str(e):
            raise ValidationError("'%s' has host bits set; did you mean %s?" % (value, ipaddress.ip_network(s, strict=False)), field)
        raise ValidationError("'%s' is not a valid network in CIDR form (e.g. 10.0.0.0/8)" % value, field)


def choice(value, field, allowed):
    if value not in allowed:
        raise ValidationError("'%s' is not allowed; choose one of: %s" % (value, ', '.join(sorted(str(a) for a in allowed))), field)
    return value


def table(value, field):
    if value is None:
        return 254
    if isinstance(value, (str, text_type)) and value in ROUTE_TABLES:
        return ROUTE_TABLES[value]
    try:
        return integer(value, field, 1, 0xFFFFFFFF)
    except ValidationError:
        raise ValidationError("'%s' is not a routing table: use 1-4294967295 or one of main, local, default" % value, field)


def table_name(number):
    for k, v in ROUTE_TABLES.items():
        if v == number:
            return k
    return number


def reject_unknown(entry, allowed, where):
    for k in entry:
        if k not in allowed:
            raise ValidationError("unknown option '%s'; allowed: %s" % (k, ', '.join(sorted(allowed))), '%s.%s' % (where, k) if where else k)


def sub(where, name):
    return '%s.%s' % (where, name) if where else name


def fields(entry, allowed, where):
    """The start of every kind's normalize(): refuse options the kind does not have, then return
    f(name) -> the field path of one option of this entry (`where.name`) for error messages."""
    reject_unknown(entry, allowed, where)
    return lambda name: sub(where, name)
