# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ingress firewall: one nftables table of our own, like Talos's ingress chain.

The model is Talos's NetworkDefaultActionConfig + NetworkRuleConfig. A firewall is one
whole-table object, so its pipeline is simpler than the netlink kinds'. One room per concern:
nft/model.py (options, validation), nft/compile.py (model -> canonical table), nft/nftjson.py
(libnftables JSON both ways), nft/status.py (what users see), nft/guard.py (the lock-out guard);
this file runs nft and is the engine's public face. The kind (plan, apply, verify, roll back: the
firewall module and the `network` module's firewall section alike) is kinds/firewall.py.

    normalize(params)   -> model              pure; ValidationError naming the field
    compile_model(model)-> canonical table    pure; what must be in the kernel
    parse_table(json)   -> canonical table    pure; what `nft -j list table` shows
    render_batch(table) -> libnftables JSON   pure; one transaction (add+delete+add table)
    evaluate(table, packet) -> verdict        pure; used by the lock-out guard
    read_tables / nft / gather_status         the kernel side, through a run(argv, data) of the caller's

A canonical rule is a flat dict of the matches this module uses (iifname, ct_state, nfproto,
l4proto, saddr, dport, icmp_type, icmpv6_type, hoplimit, limit) plus comment and verdict.
The kernel's listing and our rendering differ in form (a one-element set prints as a
value, prefixes may print as ranges, implied protocol matches are hidden), so both are
reduced to this form and compared there: idempotence never compares text.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import KernelError, NodenetError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import check_netns, in_netns, netns_path
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.model import ARGSPEC, FAMILY, NftMissing, OPTIONS, TABLE
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.nftjson import parse_table
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.status import format_table, status
# the rest of the firewall engine's public face, for its callers (the kind, network_info, tests)
# pylint: disable=unused-import
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.model import BUILTIN, LockoutError, _cidrs, _subtract, normalize  # noqa: F401
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.compile import compile_model  # noqa: F401
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.nftjson import parse_rule, render_batch, render_rule, restore_batch  # noqa: F401
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.status import compact, format_rule  # noqa: F401
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.guard import evaluate, lockout, ssh_connection  # noqa: F401
# pylint: enable=unused-import


# ---------------------------------------------------------------- the kernel side: nft

def _nft_binary():
    for d in ('/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin'):
        p = os.path.join(d, 'nft')
        if os.access(p, os.X_OK):
            return p
    raise NftMissing("the nft command (Debian/Ubuntu package 'nftables', RHEL 'nftables') is required on the node")


def command_runner(run_command):
    """A `run` for this file from a run_command-like function (argv, data=..., binary_data=...)."""
    def run(argv, data=None):
        return run_command(argv, data=data, binary_data=True)
    return run


def section_params(params):
    """The firewall options as the kind takes them (defaults filled in; absent with no rules: no rules)."""
    params = dict((k, params.get(k)) for k in OPTIONS)
    for k, spec in ARGSPEC.items():
        if params.get(k) is None and 'default' in spec:
            params[k] = spec['default']
    if params['state'] == 'absent' and not params['rules']:
        params.pop('rules')
    return params


def nft(args, netns, data, run):
    """Run nft inside `netns` with `run(argv, data) -> (rc, out, err)` (the module's run_command).

    This thread enters the namespace around the call, so the child process starts in it.
    """
    if run is None:
        raise NodenetError("internal error: the firewall engine needs run= (e.g. firewall.command_runner(module.run_command))")
    cmd = [_nft_binary()] + list(args)
    return in_netns(netns, lambda: run(cmd, data))


def _nft_error(err, what):
    text = ' '.join(line.strip() for line in err.strip().splitlines() if line.strip() and not line.strip().startswith('^'))
    if 'Operation not supported' in err or 'Protocol not supported' in err:
        return KernelError("%s: the kernel does not support nftables (EOPNOTSUPP): kernel module 'nf_tables' "
                           "(CONFIG_NF_TABLES, CONFIG_NF_TABLES_INET) is missing: %s" % (what, text), code=errno.EOPNOTSUPP)
    if 'Operation not permitted' in err:
        return KernelError("%s: permission denied (EPERM): CAP_NET_ADMIN (root) is needed" % what, code=errno.EPERM)
    return KernelError("%s: %s" % (what, text or 'nft failed'))


def read_tables(netns, run):
    """-> (listing of our table as parsed JSON or None, ['family name' of every other table])."""
    rc, out, err = nft(['-j', 'list', 'tables'], netns, None, run)
    if rc != 0:
        raise _nft_error(err, 'listing nftables tables')
    ours, others = False, []
    for obj in json.loads(out or '{}').get('nftables', []):
        t = obj.get('table')
        if not t:
            continue
        if t.get('family') == FAMILY and t.get('name') == TABLE:
            ours = True
        else:
            others.append('%s %s' % (t.get('family'), t.get('name')))
    if not ours:
        return None, others
    rc, out, err = nft(['-j', 'list', 'table', FAMILY, TABLE], netns, None, run)
    if rc != 0:
        raise _nft_error(err, 'reading table %s %s' % (FAMILY, TABLE))
    return json.loads(out), others


def gather_status(netns, run):
    """network_info's firewall record. Without nft or nf_tables it says why instead of failing."""
    check_netns(netns)
    try:
        listing, others = read_tables(netns, run)
    except KernelError as e:
        if e.code != errno.EOPNOTSUPP:
            raise
        return dict(status(None), error=str(e))
    except NftMissing as e:
        return dict(status(None), error=str(e))
    table, stats = parse_table(listing)
    return status(table, stats, others)


def _guarded_here(netns):
    """Is `netns` the namespace this process (and so, normally, sshd) runs in? Only there can SSH be cut."""
    if not netns:
        return True
    try:
        here = os.stat('/proc/self/ns/net')
        there = os.stat(netns_path(netns))
    except OSError:
        return True
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _diff(before, after):
    return {'before_header': 'table %s %s (%s)' % (FAMILY, TABLE, 'absent' if before is None else 'before'),
            'after_header': 'table %s %s (%s)' % (FAMILY, TABLE, 'absent' if after is None else 'after'),
            'before': format_table(before), 'after': format_table(after)}
