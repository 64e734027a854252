# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NICs chosen by what they are (Talos's deviceSelector) and the hardware facts it matches.

A link entry may carry `selector: {hardware_addr, permanent_addr, driver, bus_path, kernel_driver}`
instead of (or besides) `name`. Every qualifier given must match (logical AND); each is a shell-style
pattern (`*`, `?`, `[...]`), as Talos allows `*` in all of its qualifiers. Exactly one existing link
must match: none or several fail naming the selector and what the links have. With `name` as well,
the matched NIC is renamed to it, so the rest of the state (addresses, routes, VLAN parents...)
refers to a stable name; without `name`, the entry applies to the NIC under its current name.

The facts, shown on every LinkStatus record (network_info `links`) too:
  driver          the driver name the device reports to ethtool (`ethtool -i`; 'veth' for a veth)
  bus_path        the device's bus address (ethtool's bus-info, else the kernel's parent device
                  name, e.g. 0000:06:00.0); None for virtual links
  permanent_addr  the burnt-in MAC address (IFLA_PERM_ADDRESS); None where the device has none (veth)
  kernel_driver   the kernel driver bound to the parent device (/sys/bus/<bus>/devices/<dev>/driver,
                  e.g. virtio_net, igb); None for virtual links
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import array
import errno
import fcntl
import fnmatch
import os
import socket
import struct

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import MissingReference, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import in_netns

FIELDS = ('hardware_addr', 'permanent_addr', 'driver', 'bus_path', 'kernel_driver')
OPTIONS = dict((k, dict(type='str')) for k in FIELDS)
MACS = ('hardware_addr', 'permanent_addr')

SIOCETHTOOL = 0x8946
ETHTOOL_GDRVINFO = 0x00000003
DRVINFO_SIZE = 196          # struct ethtool_drvinfo
SYS_BUS = '/sys/bus'


# ---------------------------------------------------------------- validate
def normalize(sel, field):
    """The selector of one link entry: {qualifier: pattern}, at least one qualifier."""
    if not isinstance(sel, dict):
        raise ValidationError("must be a mapping of %s" % ', '.join(FIELDS), field)
    unknown = sorted(k for k in sel if k not in FIELDS)
    if unknown:
        raise ValidationError("unknown qualifier %s; a selector takes %s" % (', '.join(unknown), ', '.join(FIELDS)), field)
    out = {}
    for k in FIELDS:
        pat = sel.get(k)
        if pat is None:
            continue
        if not isinstance(pat, str) or not pat.strip():
            raise ValidationError("must be a non-empty string (a pattern; * matches any characters)", v.sub(field, k))
        out[k] = pat.strip().lower() if k in MACS else pat.strip()
    if not out:
        raise ValidationError("names no qualifier; give at least one of %s" % ', '.join(FIELDS), field)
    return out


# ---------------------------------------------------------------- observe
def _drvinfo(sock, name):
    """(driver, bus_info) from ETHTOOL_GDRVINFO, or (None, None) where the device has no ethtool ops."""
    buf = array.array('B', struct.pack('I', ETHTOOL_GDRVINFO) + b'\x00' * (DRVINFO_SIZE - 4))
    addr = buf.buffer_info()[0]
    ifreq = struct.pack('16sP', name.encode('utf-8')[:15], addr) + b'\x00' * 16
    try:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    except (IOError, OSError) as e:
        if e.errno in (errno.EOPNOTSUPP, errno.ENODEV, errno.EINVAL, errno.EPERM):
            return None, None
        raise
    raw = buf.tobytes()

    def text(off):
        s = raw[off:off + 32].split(b'\x00', 1)[0].decode('utf-8', 'replace')
        return s or None
    return text(4), text(4 + 32 * 3)


def _kernel_driver(bus, dev):
    if not bus or not dev or '/' in bus or '/' in dev:
        return None
    link = os.path.join(SYS_BUS, bus, 'devices', dev, 'driver')
    try:
        return os.path.basename(os.readlink(link))
    except OSError:
        return None


def annotate(nl, msgs, out):
    """Add the hardware facts to the LinkStatus records `out` (by name) read from `msgs`."""
    netns = getattr(nl, 'nodenet_netns', None)
    try:
        sock = in_netns(netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    except OSError:
        sock = None
    try:
        for m in msgs:
            rec = out.get(m.get('ifname'))
            if rec is None:
                continue
            driver, bus_info = _drvinfo(sock, rec['name']) if sock is not None else (None, None)
            parent = m.get('parent_dev_name')
            perm = (m.get('perm_address') or '').lower() or None
            rec['driver'] = driver
            rec['bus_path'] = bus_info or parent or None
            rec['permanent_addr'] = None if perm == '00:00:00:00:00:00' else perm
            rec['kernel_driver'] = _kernel_driver(m.get('parent_dev_bus_name'), parent)
    finally:
        if sock is not None:
            sock.close()


# ---------------------------------------------------------------- plan
def matches(sel, obs):
    return all(obs.get(k) is not None and fnmatch.fnmatchcase(str(obs[k]).lower() if k in MACS else str(obs[k]), pat)
               for k, pat in sel.items())


def _describe(sel):
    return '{%s}' % ', '.join('%s: %s' % (k, sel[k]) for k in FIELDS if k in sel)


def _facts(obs, sel):
    return '%s (%s)' % (obs['name'], ', '.join('%s=%s' % (k, obs.get(k) or '-') for k in FIELDS if k in sel))


def resolve(records, observed, where_of):
    """Turn each record's selector into the name of the one link it matches (in place).

    rec['name'] is the matched link's name when the entry has none; when it has one that differs,
    rec['rename_from'] is the matched link's current name. Raises naming the selector field."""
    taken = {}
    for i, rec in enumerate(records):
        sel = rec.get('selector')
        if not sel or rec.get('_resolved'):
            continue
        field = v.sub(where_of(rec, i), 'selector')
        found = sorted((n for n, o in observed.items() if matches(sel, o)), key=lambda n: observed[n].get('index') or 0)
        if not found:
            known = [_facts(o, sel) for n, o in sorted(observed.items(), key=lambda kv: kv[1].get('index') or 0)
                     if o.get('kind') != 'loopback' and n != 'lo']
            raise MissingReference("no link matches %s; the links here have: %s"
                                   % (_describe(sel), '; '.join(known) or 'none'), field)
        if len(found) > 1:
            raise ValidationError("%s matches %d links: %s; a selector must match exactly one (add a qualifier)"
                                  % (_describe(sel), len(found), '; '.join(_facts(observed[n], sel) for n in found)), field)
        current = found[0]
        if current in taken:
            raise ValidationError("selects link '%s', which %s selects too" % (current, taken[current]), field)
        taken[current] = field
        if rec.get('name') is None:
            rec['name'] = current
        elif rec['name'] != current:
            if rec['name'] in observed:
                raise ValidationError("the selected link '%s' can't be renamed to '%s': a link of that name exists"
                                      % (current, rec['name']), v.sub(where_of(rec, i), 'name'))
            rec['rename_from'] = current
        rec['_resolved'] = True


# ---------------------------------------------------------------- apply
def rename(nl, index, new, up):
    """Rename the link with ifindex `index`; a kernel that refuses to rename a running link
    (EBUSY, before Linux 6.2 or so) gets it down for the rename and back up."""
    try:
        nl.link('set', index=index, ifname=new)
        return
    except Exception as e:  # noqa: BLE001
        if getattr(e, 'code', None) != errno.EBUSY or not up:
            raise
    nl.link('set', index=index, state='down')
    try:
        nl.link('set', index=index, ifname=new)
    finally:
        nl.link('set', index=index, state='up')
