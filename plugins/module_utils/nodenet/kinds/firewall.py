# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall as a kind: the node's `inet nodenet` nftables table (the firewall module, and the
network module's `firewall` section).

Planned last (one atomic nft transaction after every other change), checked while planning with
`nft -c` and the lock-out guard, undone by putting the table back as it was listed. Operations are
plain data (the journal the confirm-or-revert watchdog reads, the state the boot unit applies):
  create|modify|delete firewall 'inet nodenet': before {'listing': `nft -j list table` or None}
                                               after  {'params': the section's options}
  its inverse:                                 after  {'listing': ...} (apply restores it)
The rules engine itself (model, nft JSON, parse, lock-out guard) is ../firewall.py and nft/; only the
options (nft/model.py) load with the registry, the rest on first use (_fw), so a task without a firewall
never imports it.
Error fields are named as the user typed them: `rules[0]...` in the firewall module, `firewall.rules[0]...`
in the network module's section (the record's `_where`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
from typing import Any, Dict, List, Optional

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.cmd import local_run
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.base import Op, Reason, Record, op
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.model import ARGSPEC, FAMILY, TABLE

KIND = SECTION = 'firewall'
RANK = 11           # last of all: one atomic nft transaction once everything else is in
LINK = False
SINGLE = True       # one mapping per node, not a list of entries
FEATURE = None
INFO = None         # network_info reads it itself (firewall)
OPTIONS = ARGSPEC
KEY = '%s %s' % (FAMILY, TABLE)


def _fw() -> Any:
    """The firewall engine (../firewall.py), imported when a firewall is planned, applied or reported."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import firewall
    return firewall


def runner(run: Any) -> Any:
    """nft's run(argv, data) from a module's run_command, or this process's own (watchdog, boot unit)."""
    return _fw().command_runner(run) if run is not None else local_run


def normalize(entry: Record, where: str = '') -> Record:
    if not isinstance(entry, dict):
        raise ValidationError('must be a mapping with default_action, rules and state', where or SECTION)
    fw = _fw()
    params = fw.section_params(dict((k, val) for k, val in entry.items() if not k.startswith('_')))
    fw.normalize(params, where)
    return {'params': params}


def key(rec: Record) -> str:
    return KEY


def read(nl: Any, state: Any) -> Dict[str, Record]:
    """{KEY: {'listing', 'table', 'stats', 'others'}}: our table as listed (None when absent), in canonical
    form, its rules' counters, and the node's other tables ('family name'): what report() shows."""
    fw = _fw()
    listing, others = fw.read_tables(nl.nodenet_netns, runner(getattr(nl, 'nodenet_run', None)))
    table, stats = fw.parse_table(listing)
    return {KEY: {'listing': listing, 'table': table, 'stats': stats, 'others': others}}


def _table(params):
    fw = _fw()
    return fw.compile_model(fw.normalize(params))


def plan(records: List[Record], state: Any, ctx: Dict[str, Any]) -> List[Op]:
    """The lock-out guard and the kernel's own check (nft -c) run here, so check mode sees them too.
    ctx: netns, run, and `environ` (where the SSH session is read from; default: this process and its parents)."""
    out = []  # type: List[Op]
    if not records:
        return out
    fw = _fw()
    netns, run = ctx.get('netns'), runner(ctx.get('run'))
    for rec in records:
        where = rec.get('_where', '')
        model = fw.normalize(rec['params'], where)
        obs = state.get(KIND).get(KEY)
        ctx['firewall_read'] = obs       # what report() and installed() show when nothing is applied
        before = obs['table'] if obs else None
        after = fw.compile_model(model)
        if not model['allow_lockout'] and fw._guarded_here(netns):
            why = fw.lockout(after, fw.ssh_connection(ctx.get('environ')))
            if why:
                raise fw.LockoutError(why, v.sub(where, 'rules'))
        if before == after:
            continue
        rc, dummy, err = fw.nft(['-c', '-j', '-f', '-'], netns, json.dumps(fw.render_batch(after)), run)
        if rc != 0:
            raise fw._nft_error(err, 'the kernel rejected the ruleset (checked with nft -c; nothing was changed)')
        action = 'delete' if after is None else ('create' if before is None else 'modify')
        out.append(op(KIND, action, KEY, before={'listing': obs.get('listing') if obs else None},
                      after={'params': rec['params']}, diff=[fw._diff(before, after)]))
    return out


def apply(nl: Any, o: Op) -> None:
    fw = _fw()
    after = o['after']
    batch = fw.restore_batch(after['listing']) if 'listing' in after else fw.render_batch(_table(after['params']))
    rc, dummy, err = fw.nft(['-j', '-f', '-'], nl.nodenet_netns, json.dumps(batch), runner(getattr(nl, 'nodenet_run', None)))
    if rc != 0:
        raise fw._nft_error(err, 'the kernel rejected the ruleset; nothing was changed (one atomic transaction)')


def inverse(o: Op) -> Op:
    back = 'create' if o['action'] == 'delete' else ('delete' if o['action'] == 'create' else 'modify')
    return op(KIND, back, KEY, before=o['after'], after=o['before'])


def _wanted(o: Op) -> Optional[Record]:
    """The canonical table an operation puts in place (None: no table)."""
    after = o['after']
    return _fw().parse_table(after['listing'])[0] if 'listing' in after else _table(after['params'])


def satisfied(o: Op, state: Any) -> Reason:
    obs = state.get(KIND).get(KEY)
    now = obs['table'] if obs else None
    want = _wanted(o)
    return now == want, None if now == want else 'table %s read back differently from what was applied' % KEY


def describe(o: Op) -> str:
    return '%s table %s' % ('replace' if o['action'] == 'modify' else o['action'], KEY)


def diff(o: Op) -> Optional[List[Record]]:
    return o.get('diff')


def installed(ops: List[Op], ctx: Dict[str, Any], applied: bool = True) -> Record:
    """network_info's firewall record after a run, from what the run read and wrote, without listing the
    ruleset again: the table as planning read it when nothing was applied; after an apply, the table
    the operation put in place (verify has read it back equal to that; a new table's counters start at
    zero). The node's other tables are as planning listed them (a run never touches them). Only a run
    that has not read the firewall lists it here."""
    fw = _fw()
    seen = ctx.get('firewall_read')
    if seen is None:
        return fw.gather_status(ctx.get('netns'), runner(ctx.get('run')))
    done = [o for o in ops if o['kind'] == KIND] if applied else []
    if done:
        return fw.status(_wanted(done[-1]), None, seen.get('others'))
    return fw.status(seen.get('table'), seen.get('stats'), seen.get('others'))


def report(rec: Record, ops: List[Op], ctx: Dict[str, Any]) -> Record:
    """The firewall module's return value: the policy as installed (in check mode, as it is now)."""
    return {'firewall': installed(ops, ctx, applied=not ctx.get('check_mode'))}
