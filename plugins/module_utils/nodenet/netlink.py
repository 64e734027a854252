# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening netlink (optionally inside a named network namespace)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NetnsError, explain

try:
    from pyroute2 import IPRoute
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - reported by the modules
    IPRoute = None
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = e

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
    return path


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


def open_netlink(netns=None):
    if not HAS_PYROUTE2:
        raise NetnsError("the Python library pyroute2 (>= 0.7.3) is required on the target: %s" % PYROUTE2_IMPORT_ERROR)
    try:
        nl = in_netns(netns, IPRoute)
        nl.nodenet_netns = netns
        return nl
    except NetnsError:
        raise
    except Exception as e:  # noqa: BLE001 - translated below
        raise explain(e, "opening netlink in namespace '%s'" % (netns or 'host'))


def write_sysctl(nl, path, value):
    """Write /proc/sys/<path> inside the namespace `nl` works on."""
    def write():
        with open('/proc/sys/' + path, 'w') as fh:
            fh.write(str(value))
    in_netns(getattr(nl, 'nodenet_netns', None), write)


def link_index(nl, name):
    """ifindex of the link called `name`, or a KernelError (ENODEV) naming it."""
    found = nl.link_lookup(ifname=name)
    if not found:
        raise explain(OSError(19, 'No such device'), "looking up link '%s'" % name)
    return found[0]
