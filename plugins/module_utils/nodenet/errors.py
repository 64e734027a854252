# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain errors of the nodenet engine and the errno -> message translation."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno as _errno


class NodenetError(Exception):
    """Base class: a message meant for the user, optionally naming a field."""

    def __init__(self, msg, field=None):
        self.field = field
        self.msg = msg
        super(NodenetError, self).__init__(self.__str__())

    def __str__(self):
        if self.field:
            return "%s: %s" % (self.field, self.msg)
        return self.msg


class ValidationError(NodenetError):
    """Bad input, found before anything was touched."""


class MissingReference(ValidationError):
    """A referenced object (usually a link) neither exists nor is declared."""


class NetnsError(NodenetError):
    """The requested network namespace can't be entered."""


class KernelError(NodenetError):
    """The kernel refused an operation."""

    def __init__(self, msg, field=None, code=None):
        self.code = code
        super(KernelError, self).__init__(msg, field)


class ApplyError(NodenetError):
    """An operation failed during apply/verify; carries what rollback did."""

    def __init__(self, msg, rolled_back=True, rollback_errors=None, operation=None, field=None):
        self.rolled_back = rolled_back
        self.rollback_errors = rollback_errors or []
        self.operation = operation
        super(ApplyError, self).__init__(msg, field)


def error_code(exc):
    """The errno carried by a netlink or OS exception, or None."""
    code = getattr(exc, 'code', None)
    if code is None:
        code = getattr(exc, 'errno', None)
    if code is None and getattr(exc, 'args', None):
        if isinstance(exc.args[0], int):
            code = exc.args[0]
    return code


def explain(exc, what, kind=None, feature=None):
    """Turn a kernel error raised while doing `what` into a KernelError.

    `kind` is the link kind involved and `feature` the (kernel module, Kconfig symbol) it needs
    (the kind's FEATURE), so EOPNOTSUPP can name the missing kernel feature.
    """
    if isinstance(exc, NodenetError):
        return exc
    code = error_code(exc)
    name = _errno.errorcode.get(code, 'E?') if isinstance(code, int) else 'error'
    if code == _errno.EOPNOTSUPP:
        name = 'EOPNOTSUPP'
    detail = str(exc)
    if code == _errno.EOPNOTSUPP:
        feat = feature
        if feat:
            msg = ("%s: the kernel does not support links of kind '%s' (%s): "
                   "kernel module '%s' (%s) is missing or not loaded"
                   % (what, kind, name, feat[0], feat[1]))
        else:
            msg = "%s: the kernel does not support this operation (%s)" % (what, name)
    elif code == _errno.EPERM:
        msg = "%s: permission denied (%s): CAP_NET_ADMIN (root) is needed" % (what, name)
    elif code == _errno.EEXIST:
        msg = "%s: already exists (%s)" % (what, name)
    elif code == _errno.ENODEV:
        msg = "%s: no such link (%s)" % (what, name)
    elif code == _errno.ENETUNREACH:
        msg = "%s: the gateway is not reachable through any link with an address in its subnet (%s)" % (what, name)
    elif code == _errno.ENETDOWN:
        msg = "%s: the link is down (%s)" % (what, name)
    elif code == _errno.EADDRINUSE:
        msg = "%s: an address or port it needs is already in use (%s)" % (what, name)
    elif code == _errno.EADDRNOTAVAIL:
        msg = "%s: address not available on this node (%s)" % (what, name)
    elif code == _errno.ERANGE:
        msg = "%s: value out of the range the kernel accepts (%s)" % (what, name)
    elif code == _errno.EINVAL:
        msg = "%s: the kernel rejected a value as invalid (%s: %s)" % (what, name, detail)
    else:
        msg = "%s: %s" % (what, detail or name)
    return KernelError(msg, code=code)
