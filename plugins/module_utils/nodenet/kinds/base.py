# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kind interface every resource kind declares, and the typed operation.

A kind is one module under kinds/ that defines the names of `Kind` below. registry.py lists the
kinds (the only list there is) and checks each one against this interface when it is imported;
the `network` module's sections, the purge choices, which kinds are links, the network_info
resources and the kernel features named in errors all derive from the registry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import MissingReference, ValidationError

try:
    from typing import Protocol, TypedDict
except ImportError:  # pragma: no cover - Python < 3.8 has neither; the names only document
    Protocol = object
    TypedDict = None

Record = Dict[str, Any]
Reason = Tuple[bool, Optional[str]]

if TypedDict is not None:
    class Op(TypedDict, total=False):
        """One step of a plan. `before`/`after` are status-shaped records: what the object was and
        what it becomes (None: absent), enough for the kind to apply it and to undo it."""
        kind: str               # Kind.KIND
        action: str             # create | delete | modify
        key: str                # Kind.key() of the object
        before: Optional[Record]
        after: Optional[Record]
        depth: int              # link kinds: how many links it needs first (removals negative)
        purge: bool             # a removal asked for by `purge`, not by an entry
        side_effect: bool       # journal only: the kernel removed it by itself
else:  # pragma: no cover
    Op = dict


class Kind(Protocol):
    """What a kind module defines (module-level names)."""

    KIND: str                   # engine name; op['kind']
    SECTION: str                # the `network` module's option for a list of these
    RANK: float                 # dependency order: 0 links, 1 addresses, 2 routes, 3 rules, 10 files, 11 firewall
    LINK: bool                  # its objects are links: named, ordered by depth, "managed links" for purge
    FEATURE: Optional[Tuple[str, str]]  # (kernel module, Kconfig symbol) it needs, named in errors
    INFO: Optional[str]         # its network_info resource (None: shown inside another's records)
    OPTIONS: Dict[str, Dict[str, Any]]  # the argument spec of one entry

    def normalize(self, entry: Record, where: str = '') -> Record: ...

    def key(self, rec: Record) -> str: ...

    def read(self, nl: Any, state: Any) -> Dict[str, Record]: ...

    def plan(self, records: List[Record], state: Any, ctx: Dict[str, Any]) -> List[Op]: ...

    def apply(self, nl: Any, op: Op) -> None: ...

    def inverse(self, op: Op) -> Op: ...

    def satisfied(self, op: Op, state: Any) -> Reason: ...


# Optional names: SINGLE = True (the section is one mapping per node, not a list: the /etc files and
# the firewall; planned after every other kind), describe(op) (its line in `operations`), diff(op)
# (its own before/after entries), RULES (option combinations for the argument spec: mutually_exclusive,
# required_if, required_by), unguardable(op) / to_journal(op) (confirm-or-revert: why an operation can't be
# undone from a journal on disk / the operation as plain data for it), declare(records, state, ctx) (link names a plan creates), message(nl, op) (a create
# or removal as one netlink message for a batch; refused(op, error): the error for one the kernel refused),
# purge(records, state, links, planned) (removals for `purge`),
# read_some(nl, state, ops) (re-read only what ops touched), matches(rec, obs), module_result(rec, obs), result(rec, observed)
# (the single module's return value), report(rec, ops, ctx) (instead of those: a single module that reports more than one
# object - the files, the firewall - from its run's operations and ctx {netns, run, check_mode, diff_mode}),
# info_records(state) (its network_info resource, when not one record per object),
# details(data, names, m) / port_details(slave_data) (link status details of a link kind).
REQUIRED = ('KIND', 'SECTION', 'RANK', 'LINK', 'FEATURE', 'INFO', 'OPTIONS',
            'normalize', 'key', 'read', 'plan', 'apply', 'inverse', 'satisfied')


def check(module: Any) -> Any:
    """The kind module itself, or TypeError naming what it lacks (caught when the registry is imported)."""
    missing = [n for n in REQUIRED if not hasattr(module, n)]
    if missing:
        raise TypeError('kind %s does not declare %s' % (getattr(module, '__name__', module), ', '.join(missing)))
    return module


def op(kind: str, action: str, key: str, before: Optional[Record] = None, after: Optional[Record] = None,
       **extra: Any) -> Op:
    """An operation of `kind`."""
    out = {'kind': kind, 'action': action, 'key': key, 'before': before, 'after': after}
    out.update((k, val) for k, val in extra.items() if val)
    return out


def maker(kind: str) -> Callable[..., Op]:
    """op() bound to one kind: the `_op` of each kind module."""
    def make(action: str, key: str, before: Optional[Record] = None, after: Optional[Record] = None, **extra: Any) -> Op:
        return op(kind, action, key, before, after, **extra)
    return make


def swap(o: Op) -> Op:
    """The inverse of an operation whose records say everything needed to redo the other side
    (the link kinds record in `before` what a deletion removes)."""
    inv = {'create': 'delete', 'delete': 'create', 'modify': 'modify'}[o['action']]
    return op(o['kind'], inv, o['key'], before=o['after'], after=o['before'])


def inverter(kind: str, clean: Callable[[Record], Record]) -> Callable[[Op], Op]:
    """inverse(op) of a kind whose records say everything needed to recreate the object: a creation
    is undone by deleting what it made, a deletion by creating what was there (`clean` keeps the
    fields a create takes), a change by the opposite change."""
    def inverse(o: Op) -> Op:
        if o['action'] == 'create':
            return op(kind, 'delete', o['key'], before=o['after'])
        if o['action'] == 'delete':
            return op(kind, 'create', o['key'], after=clean(o['before']))
        return op(kind, 'modify', o['key'], before=o['after'], after=o['before'])
    return inverse


def presence(kind: str, noun: str, check: Callable[[Op, Record], Optional[str]]) -> Callable[[Op, Any], Reason]:
    """satisfied(op, state) of a kind keyed exactly like the kernel's records: a removal is done when
    the key is gone; otherwise the object must be there and check(op, observed) return no complaint."""
    def satisfied(o: Op, state: Any) -> Reason:
        obs = state.get(kind).get(o['key'])
        if o['action'] == 'delete':
            return obs is None, None if obs is None else "%s %s is still present" % (noun, o['key'])
        if obs is None:
            return False, "%s %s is missing" % (noun, o['key'])
        why = check(o, obs)
        return why is None, why
    return satisfied


def entries(records: List[Record], section: str) -> Iterator[Tuple[str, Record]]:
    """(field path, record) of each entry of a section: the path that names it in errors
    (`<section>[i]`; '' for the one entry of a single-kind module)."""
    for i, rec in enumerate(records):
        yield rec.get('_where', '%s[%d]' % (section, i) if len(records) > 1 else ''), rec


def keyed(records: List[Record], section: str, key: Callable[[Record], str],
          twice: Callable[[Record, str], Tuple[str, str]]) -> Iterator[Tuple[str, str, Record]]:
    """(field path, key, record) of each entry; two entries with one key are a ValidationError:
    twice(record, key) -> (message, the option it names)."""
    seen = set()  # type: Set[str]
    for where, rec in entries(records, section):
        k = key(rec)
        if k in seen:
            msg, option = twice(rec, k)
            raise ValidationError(msg, '%s.%s' % (where, option) if where else option)
        seen.add(k)
        yield where, k, rec


def links_in(ctx: Dict[str, Any], state: Any) -> Tuple[Set[str], Set[str]]:
    """(links that exist or that the plan creates, links that the plan removes)."""
    return ctx.get('link_present', set(state.links())), ctx.get('link_absent', set())


def need_link(name: str, field: str, present: Set[str], absent: Set[str]) -> None:
    """MissingReference naming `field` unless link `name` exists (and stays) or is declared."""
    if name in absent or name not in present:
        raise MissingReference("link '%s' does not exist and is not declared" % name, field)
