# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a plan with a journal; verify; roll back on any failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, NodenetError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import batch, forget_links
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import State
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import summary
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS, READERS

VERIFY_TRIES = 20
VERIFY_DELAY = 0.05


def apply_plan(nl, ops, fail_after=None):
    """Apply `ops` in order. On failure roll back what was applied and raise ApplyError.

    Returns the journal (the applied operations).
    fail_after: testing hook; raise after that many operations were applied.
    """
    journal = []
    try:
        i = 0
        while i < len(ops):
            op = ops[i]
            if fail_after is not None and len(journal) >= fail_after:
                raise NodenetError("injected failure before '%s' (test hook)" % summary(op))
            n = _apply_batch(nl, ops, i, journal, fail_after)
            if n:
                i += n
                continue
            before = _dependents(nl, op)
            apply_one(nl, op)
            journal.extend(_lost(nl, op, before, ops))
            journal.append(op)
            i += 1
        verify(nl, ops)
    except Exception as e:  # noqa: BLE001
        failed = e if isinstance(e, NodenetError) else NodenetError(str(e))
        errors = rollback(nl, journal)
        if errors:
            msg = ("%s; ROLLBACK INCOMPLETE: %d of %d applied operations could not be undone: %s"
                   % (failed, len(errors), len(journal), '; '.join(errors)))
        elif journal:
            msg = "%s; rolled back the %d operation(s) already applied, the node is as it was" % (failed, len(journal))
        else:
            msg = "%s; nothing had been changed" % failed
        raise ApplyError(msg, rolled_back=not errors, rollback_errors=errors)
    return journal


BATCH_MIN = 8


NOT_LINKS = ('address', 'route', 'rule')


def apply_one(nl, op):
    """Apply one operation. Anything done to a link (of any kind: a bond's mode change, a
    userspace WireGuard link recreated by its daemon) may change which index a name has:
    the per-socket index cache (netlink.link_index) is dropped then."""
    try:
        KINDS[op['kind']].apply(nl, op)
    finally:
        if op['kind'] not in NOT_LINKS:
            forget_links(nl)


def _apply_batch(nl, ops, i, journal, fail_after):
    """Apply the run of same-kind creations starting at ops[i] as one netlink batch, when the kind
    can encode them (kind.message) and the run is long enough to be worth it. Every request the
    kernel accepted is journaled, so a refusal part way rolls back the whole plan as usual.
    Returns how many operations were applied (0: not batched)."""
    kind = KINDS[ops[i]['kind']]
    if not hasattr(kind, 'message'):
        return 0
    j = i
    while j < len(ops) and ops[j]['kind'] == ops[i]['kind'] and ops[j]['action'] == ops[i]['action'] \
            and (fail_after is None or len(journal) + (j - i) < fail_after):
        j += 1
    if j - i < BATCH_MIN:
        return 0
    group = ops[i:j]
    try:
        msgs = [kind.message(nl, op) for op in group]
    except Exception as e:  # noqa: BLE001
        raise explain(e, summary(group[0]))
    if any(m is None for m in msgs):
        return 0
    failed = None
    for op, code in zip(group, batch(nl, msgs)):
        if code == 0:
            journal.append(op)
        elif failed is None:
            failed = (op, code)
    if failed:
        op, code = failed
        raise explain(OSError(code, os.strerror(code) if code else 'no answer from the kernel'), summary(op))
    return len(group)


def _affected_link(op):
    """The link whose addresses/routes the kernel may remove as a side effect of `op`, or None."""
    if op['kind'] == 'address' and op['action'] in ('delete', 'modify'):
        return op['before']['link']
    if op['kind'] == 'link' and (op['action'] == 'delete' or (op['action'] == 'modify' and op['after'].get('up') is False)):
        return op['key']
    return None


def _dependents(nl, op):
    """Before an op that can make the kernel drop other objects (deleting an address flushes the routes
    through its subnet; deleting a link takes its addresses and routes): what is on that link now."""
    link = _affected_link(op)
    if link is None:
        return None
    state = State(nl, READERS)
    return dict((kind, dict((k, r) for k, r in state.get(kind).items() if r.get('link') == link))
                for kind in ('route', 'address'))


def _lost(nl, op, before, ops):
    """Journal entries for what the kernel removed by itself, so a rollback recreates it.

    Placed before `op` in the journal: undone after it, routes after addresses."""
    if not before:
        return []
    state = State(nl, READERS)
    planned = set((o['kind'], o['key']) for o in ops)
    out = []
    for kind in ('route', 'address'):
        now = state.get(kind)
        for k, rec in sorted(before[kind].items()):
            if k not in now and (kind, k) not in planned:
                if kind == 'address' and rec.get('family') == 'inet6' and rec.get('scope') == 'link':
                    continue   # the kernel makes these itself
                if kind == 'route' and rec.get('protocol') == 'kernel':
                    continue   # comes back with its address
                out.append({'kind': kind, 'action': 'delete', 'key': k, 'before': rec, 'after': None, 'side_effect': True})
    return out


def rollback(nl, journal):
    errors = []
    for op in reversed(journal):
        inv = KINDS[op['kind']].inverse(op)
        try:
            apply_one(nl, inv)
        except Exception as e:  # noqa: BLE001
            errors.append('%s: %s' % (summary(inv), e))
    return errors


def verify(nl, ops):
    """Re-read the kernel until every operation's result is visible (bounded)."""
    pending = list(ops)
    reason = None
    for dummy in range(VERIFY_TRIES):
        state = State(nl, READERS)
        still = []
        for op in pending:
            ok, why = KINDS[op['kind']].satisfied(op, state)
            if not ok:
                still.append(op)
                reason = why
        pending = still
        if not pending:
            return
        time.sleep(VERIFY_DELAY)
    raise NodenetError("verification failed after apply: %s (%s)" % (reason, summary(pending[0])))
