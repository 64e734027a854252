# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning: (desired, observed) -> ordered operations. Pure: no kernel access."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import netdev
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS, ORDER

LAST_RANK = max(m.RANK for m in KINDS.values())


def normalize(desired):
    """{kind: [raw entries]} -> {kind: [records]}; raises ValidationError naming the field."""
    out = {}
    for kind in ORDER:
        entries = desired.get(kind) or []
        recs = []
        for i, entry in enumerate(entries):
            where = entry.pop('_where', None)
            if where is None:
                where = '%s[%d]' % (kind, i) if len(entries) > 1 else ''
            rec = KINDS[kind].normalize(entry, where)
            rec['_where'] = where
            recs.append(rec)
        out[kind] = recs
    return out


def order_key(op):
    """Removals first, in reverse dependency order; then creations and changes in order
    (at equal depth a link is created before another kind's change to it)."""
    rank = KINDS[op['kind']].RANK
    if op['action'] == 'delete':
        phase = LAST_RANK - rank
    else:
        phase = LAST_RANK + 1 + rank
    return (phase, op.get('depth', 0), 0 if op['action'] == 'create' else 1)


def plan(records, state, ctx=None):
    """records: {kind: [normalized records]} -> ordered list of operations.

    Every link-like kind first declares the names it creates and removes and what each
    needs (kinds/netdev.py), so links may refer to links of any kind in the same plan.
    ctx collects planner warnings under 'warnings'.
    """
    ctx = {} if ctx is None else ctx
    netdev.context(ctx, state)
    for kind in ORDER:
        if kind in records and hasattr(KINDS[kind], 'declare'):
            KINDS[kind].declare(records[kind], state, ctx)
    ops = []
    for kind in ORDER:
        if kind in records or kind == 'link':
            ops.extend(KINDS[kind].plan(records.get(kind, []), state, ctx))
    netdev.set_depths([op for op in ops if KINDS[op['kind']].LINK], ctx, state)
    # stable: within a phase, keep the user's order
    return sorted(ops, key=order_key)


def summary(op):
    return '%s %s %s' % (op['action'], op['kind'], op['key'])
