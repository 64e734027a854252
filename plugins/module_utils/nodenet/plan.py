# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning: (desired, observed) -> ordered operations. Pure: no kernel access."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import netdev
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.base import Op, Record
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS, LINK_KINDS, ORDER, PURGEABLE

LAST_RANK = max(m.RANK for m in KINDS.values() if not getattr(m, 'SINGLE', False))


def normalize(desired: Dict[str, List[Record]]) -> Dict[str, List[Record]]:
    """{kind: [raw entries]} -> {kind: [records]}; raises ValidationError naming the field."""
    out = {}
    derived = {}   # entries one kind's record derives for a later kind (a link's dhcp4 -> a dhcp entry)
    for kind in ORDER:
        entries = list(desired.get(kind) or []) + derived.pop(kind, [])
        recs = []
        for i, entry in enumerate(entries):
            where = entry.pop('_where', None)
            if where is None:
                where = '%s[%d]' % (kind, i) if len(entries) > 1 else ''
            rec = KINDS[kind].normalize(entry, where)
            for dkind, dentry in rec.pop('_derive', ()):
                derived.setdefault(dkind, []).append(dentry)
            rec['_where'] = where
            recs.append(rec)
        out[kind] = recs
    return out


def order_key(op: Op) -> Tuple[float, int, int]:
    """Removals first, in reverse dependency order; then creations and changes in order
    (at equal depth a link is created before another kind's change to it)."""
    rank = KINDS[op['kind']].RANK
    if getattr(KINDS[op['kind']], 'SINGLE', False):
        # the node-wide kinds (files, firewall) land after every netlink change, removals included
        return (2 * LAST_RANK + 2 + rank, 0, 0)
    if op['action'] == 'delete':
        phase = LAST_RANK - rank
    else:
        phase = LAST_RANK + 1 + rank
    return (phase, op.get('depth', 0), 0 if op['action'] == 'create' else 1)


def plan(records: Dict[str, List[Record]], state: Any, ctx: Optional[Dict[str, Any]] = None,
         purge: Iterable[str] = ()) -> List[Op]:
    """records: {kind: [normalized records]} -> ordered list of operations.

    Every link-like kind first declares the names it creates and removes and what each
    needs (kinds/netdev.py), so links may refer to links of any kind in the same plan.
    purge: the `purge` choices; their removals join the plan (marked 'purge').
    ctx collects planner warnings under 'warnings'.
    """
    ctx = {} if ctx is None else ctx
    for p in purge:
        if p not in PURGEABLE:
            raise ValidationError("'%s' can't be purged; choose from: %s" % (p, ', '.join(sorted(PURGEABLE))), 'purge')
    netdev.context(ctx, state)
    for kind in ORDER:
        if kind in records and hasattr(KINDS[kind], 'declare'):
            KINDS[kind].declare(records[kind], state, ctx)
    ops = []
    for kind in ORDER:
        if kind in records or kind == 'link':
            ops.extend(KINDS[kind].plan(records.get(kind, []), state, ctx))
    netdev.set_depths([op for op in ops if KINDS[op['kind']].LINK], ctx, state)
    if purge:
        ops += purge_ops(records, state, purge, ops)
    # stable: within a phase, keep the user's order
    return sorted(ops, key=order_key)


def managed_links(records: Dict[str, List[Record]]) -> Set[str]:
    return set(rec['name'] for kind in LINK_KINDS for rec in records.get(kind, []) if rec.get('state') == 'present')


def purge_ops(records: Dict[str, List[Record]], state: Any, purge: Iterable[str], ops: List[Op]) -> List[Op]:
    """Delete operations for objects the state does not declare, by each purged kind's own policy
    (kind.purge): addresses and routes on managed links, rules that point at a table this state
    manages or name a managed link."""
    links = managed_links(records)
    planned = set((op['kind'], op['key']) for op in ops)
    out = []
    for kind in sorted(set(PURGEABLE[p] for p in purge), key=ORDER.index):
        for op in KINDS[kind].purge(records, state, links, planned, set(purge)):
            op['purge'] = True
            out.append(op)
    return out


def summary(op: Op) -> str:
    """One line for the operation list and messages (kind.describe when the kind words its own)."""
    kind = KINDS.get(op['kind'])
    if kind is not None and hasattr(kind, 'describe'):
        return kind.describe(op)
    return '%s %s %s' % (op['action'], op['kind'], op['key'])
