# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a plan with a journal; verify; roll back on any failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time
from typing import Any, List, Optional

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, NodenetError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.base import Op, Record
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import batch, forget_links
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import State
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import summary
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS, READERS

VERIFY_TRIES = 20
VERIFY_DELAY = 0.05


def apply_plan(nl: Any, ops: List[Op], fail_after: Optional[int] = None, state: Optional[State] = None) -> List[Op]:
    """Apply `ops` in order. On failure roll back what was applied and raise ApplyError.

    Returns the journal (the applied operations).
    state: the State the plan was made from; its addresses and routes (when it read them) are
    the starting point of the side-effect snapshot, so nothing is read twice.
    fail_after: testing hook; raise after that many operations were applied.
    """
    journal = []
    seen = Snapshot(nl, state)
    planned = set((o['kind'], o['key']) for o in ops)
    try:
        i = 0
        while i < len(ops):
            op = ops[i]
            if fail_after is not None and len(journal) >= fail_after:
                raise NodenetError("injected failure before '%s' (test hook)" % summary(op))
            n = _apply_batch(nl, ops, i, journal, fail_after, seen, planned)
            if n:
                i += n
                continue
            links = _affected_links([op])
            before = seen.on(links) if links else None
            apply_one(nl, op)
            if links:
                journal.extend(seen.lost(before, planned))
            else:
                seen.landed(op)
            journal.append(op)
            i += 1
        verify(nl, ops)
    except Exception as e:  # noqa: BLE001
        failed = e if isinstance(e, NodenetError) else NodenetError(str(e))
        errors = rollback(nl, journal)
        # the failed field (a file section's path, say) stays the error's field
        what = failed.msg
        if errors:
            msg = ("%s; ROLLBACK INCOMPLETE: %d of %d applied operations could not be undone: %s"
                   % (what, len(errors), len(journal), '; '.join(errors)))
        elif journal:
            msg = "%s; rolled back the %d operation(s) already applied, the node is as it was" % (what, len(journal))
        else:
            msg = "%s; nothing had been changed" % what
        raise ApplyError(msg, rolled_back=not errors, rollback_errors=errors, field=failed.field)
    return journal


BATCH_MIN = 8


def apply_one(nl: Any, op: Op) -> None:
    """Apply one operation. Anything done to a link (of any kind: a bond's mode change, a
    userspace WireGuard link recreated by its daemon) may change which index a name has:
    the per-socket index cache (netlink.link_index) is dropped then."""
    try:
        KINDS[op['kind']].apply(nl, op)
    finally:
        if KINDS[op['kind']].LINK:
            forget_links(nl)


def _apply_batch(nl, ops, i, journal, fail_after, seen, planned):
    """Apply the run of same-kind, same-action (same-depth) operations starting at ops[i] as one netlink batch,
    when the kind can encode them (kind.message) and the run is long enough to be worth it. Every
    request the kernel accepted is journaled, so a refusal part way rolls back the whole plan as
    usual; what the kernel removed by itself (removing addresses flushes routes) is journaled
    before the batch from one re-read after it. Returns how many operations were applied (0: not batched)."""
    kind = KINDS[ops[i]['kind']]
    if not hasattr(kind, 'message'):
        return 0
    j = i
    # same kind, action and depth: a link in the run never needs another link the same run makes
    while j < len(ops) and ops[j]['kind'] == ops[i]['kind'] and ops[j]['action'] == ops[i]['action'] \
            and ops[j].get('depth') == ops[i].get('depth') \
            and (fail_after is None or len(journal) + (j - i) < fail_after):
        j += 1
    if j - i < BATCH_MIN:
        return 0
    msgs = []
    for op in ops[i:j]:
        try:
            m = kind.message(nl, op)
        except Exception as e:  # noqa: BLE001
            raise explain(e, summary(op))
        if m is None:    # this one is applied on its own; the run up to it still goes as a batch
            break
        msgs.append(m)
    if len(msgs) < BATCH_MIN:
        return 0
    group = ops[i:i + len(msgs)]
    links = _affected_links(group)
    before = seen.on(links) if links else None
    failed = None
    done = []
    try:
        codes = batch(nl, msgs)
    finally:
        if kind.LINK:
            forget_links(nl)
    for op, code in zip(group, codes):
        if code == 0:
            done.append(op)
        elif failed is None:
            failed = (op, code)
    if links:
        journal.extend(seen.lost(before, planned))
    else:
        for op in done:
            seen.landed(op)
    journal.extend(done)
    if failed:
        op, code = failed
        e = OSError(code, os.strerror(code) if code else 'no answer from the kernel')
        raise kind.refused(op, e) if hasattr(kind, 'refused') else explain(e, summary(op))
    return len(group)


def _affected_links(ops):
    """The links whose addresses/routes the kernel may remove as a side effect of `ops`."""
    out = set()
    for op in ops:
        if op['kind'] == 'address' and op['action'] in ('delete', 'modify'):
            out.add(op['before']['link'])
        elif op['kind'] == 'link' and (op['action'] == 'delete' or (op['action'] == 'modify' and op['after'].get('up') is False)):
            out.add(op['key'])
    return out


class Snapshot(object):
    """The node's addresses and routes while a plan lands: taken once (from the planner's State when
    it read them), updated in memory as operations land, and re-read only after an operation that can
    make the kernel drop other objects (deleting an address flushes the routes through its subnet;
    deleting a link, or taking it down, takes its addresses and routes). So a purge of N objects
    reads the tables a few times, not twice per object."""

    FAMILIES = ('route', 'address')

    def __init__(self, nl, state=None):
        self.nl = nl
        self.state = state
        self.data = None

    def _get(self):
        if self.data is None:
            st = self.state if self.state is not None else State(self.nl, READERS)
            self.data = dict((kind, dict(st.get(kind))) for kind in self.FAMILIES)
            self.state = None
        return self.data

    def on(self, links):
        """What is on these links now: {kind: {key: record}}."""
        data = self._get()
        return dict((kind, dict((k, r) for k, r in data[kind].items() if r.get('link') in links)) for kind in self.FAMILIES)

    def landed(self, op):
        """Keep the snapshot current after `op` (one without side effects) landed."""
        if self.data is None or op['kind'] not in self.FAMILIES:
            return
        table = self.data[op['kind']]
        if op['action'] == 'delete':
            table.pop(op['key'], None)
        else:
            table[op['key']] = op['after']

    def lost(self, before, planned):
        """Re-read; journal entries for what the kernel removed by itself since `before`, so a rollback
        recreates it. Placed before the operations in the journal: undone after them, routes after addresses."""
        st = State(self.nl, READERS)
        self.data = dict((kind, dict(st.get(kind))) for kind in self.FAMILIES)
        out = []
        for kind in self.FAMILIES:
            now = self.data[kind]
            for k, rec in sorted(before[kind].items()):
                if k not in now and (kind, k) not in planned:
                    if kind == 'address' and rec.get('family') == 'inet6' and rec.get('scope') == 'link':
                        continue   # the kernel makes these itself
                    if kind == 'route' and rec.get('protocol') == 'kernel':
                        continue   # comes back with its address
                    out.append({'kind': kind, 'action': 'delete', 'key': k, 'before': rec, 'after': None, 'side_effect': True})
        return out


def journal_data(journal: List[Op]) -> List[Record]:
    """The journal as plain data for a file (the confirm-or-revert watchdog): a kind whose operations
    hold more than data (WireGuard's keys) gives its own form (kind.to_journal), never with a secret."""
    return [KINDS[op['kind']].to_journal(op) if hasattr(KINDS[op['kind']], 'to_journal') else op for op in journal]


def rollback(nl: Any, journal: List[Op]) -> List[str]:
    errors = []
    for op in reversed(journal):
        inv = KINDS[op['kind']].inverse(op)
        try:
            apply_one(nl, inv)
        except Exception as e:  # noqa: BLE001
            errors.append('%s: %s' % (summary(inv), e))
    return errors


def verify(nl: Any, ops: List[Op]) -> None:
    """Re-read the kernel until every operation's result is visible (bounded). Only what the plan
    touched is re-read: the kinds of its operations and, where the kind can narrow its read
    (kind.read_some), only the links or tables the operations name."""
    only = {}
    for kind in set(op['kind'] for op in ops):
        if hasattr(KINDS[kind], 'read_some'):
            only[kind] = KINDS[kind].read_some([op for op in ops if op['kind'] == kind])
    pending = list(ops)
    reason = None
    for dummy in range(VERIFY_TRIES):
        state = State(nl, READERS, only)
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
