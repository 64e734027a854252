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
The rules engine itself (model, nft JSON, parse, lock-out guard) is ../firewall.py and nft/.
Error fields are named as the user typed them: `rules[0]...` in the firewall module, `firewall.rules[0]...`
in the network module's section (the record's `_where`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
from typing import Any, Dict, List, Optional

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import firewall as fw
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.cmd import local_run
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.base import Op, Reason, Record, op

KIND = SECTION = 'firewall'
RANK = 11           # last of all: one atomic nft transaction once everything else is in
LINK = False
SINGLE = True       # one mapping per node, not a list of entries
FEATURE = None
INFO = None         # network_info reads it itself (firewall)
OPTIONS = fw.ARGSPEC
KEY = '%s %s' % (fw.FAMILY, fw.TABLE)


def runner(run: Any) -> Any:
    """nft's run(argv, data) from a module's run_command, or this process's own (watchdog, boot unit)."""
    return fw.command_runner(run) if run is not None else local_run


def normalize(entry: Record, where: str = '') -> Record:
    if not isinstance(entry, dict):
        raise ValidationError('must be a mapping with default_action, rules and state', where or SECTION)
    params = fw.section_params(dict((k, val) for k, val in entry.items() if not k.startswith('_')))
    fw.normalize(params, where)
    return {'params': params}


def key(rec: Record) -> str:
    return KEY


def read(nl: Any, state: Any) -> Dict[str, Record]:
    """{KEY: {'listing', 'table'}} or {} when the table is absent."""
    listing = fw.read_tables(nl.nodenet_netns, runner(getattr(nl, 'nodenet_run', None)))[0]
    if listing is None:
        return {}
    return {KEY: {'listing': listing, 'table': fw.parse_table(listing)[0]}}


def _table(params):
    return fw.compile_model(fw.normalize(params))


def plan(records: List[Record], state: Any, ctx: Dict[str, Any]) -> List[Op]:
    """The lock-out guard and the kernel's own check (nft -c) run here, so check mode sees them too.
    ctx: netns, run, and `environ` (where the SSH session is read from; default: this process and its parents)."""
    out = []
    netns, run = ctx.get('netns'), runner(ctx.get('run'))
    for rec in records:
        where = rec.get('_where', '')
        model = fw.normalize(rec['params'], where)
        obs = state.get(KIND).get(KEY)
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
        out.append(op(KIND, action, KEY, before={'listing': obs['listing'] if obs else None},
                      after={'params': rec['params']}, diff=[fw._diff(before, after)]))
    return out


def apply(nl: Any, o: Op) -> None:
    after = o['after']
    batch = fw.restore_batch(after['listing']) if 'listing' in after else fw.render_batch(_table(after['params']))
    rc, dummy, err = fw.nft(['-j', '-f', '-'], nl.nodenet_netns, json.dumps(batch), runner(getattr(nl, 'nodenet_run', None)))
    if rc != 0:
        raise fw._nft_error(err, 'the kernel rejected the ruleset; nothing was changed (one atomic transaction)')


def inverse(o: Op) -> Op:
    back = 'create' if o['action'] == 'delete' else ('delete' if o['action'] == 'create' else 'modify')
    return op(KIND, back, KEY, before=o['after'], after=o['before'])


def satisfied(o: Op, state: Any) -> Reason:
    obs = state.get(KIND).get(KEY)
    now = obs['table'] if obs else None
    after = o['after']
    want = fw.parse_table(after['listing'])[0] if 'listing' in after else _table(after['params'])
    return now == want, None if now == want else 'table %s read back differently from what was applied' % KEY


def describe(o: Op) -> str:
    return '%s table %s' % ('replace' if o['action'] == 'modify' else o['action'], KEY)


def diff(o: Op) -> Optional[List[Record]]:
    return o.get('diff')


def report(rec: Record, ops: List[Op], ctx: Dict[str, Any]) -> Record:
    """The firewall module's return value: the policy as installed (in check mode, as it is now)."""
    return {'firewall': fw.gather_status(ctx.get('netns'), runner(ctx.get('run')))}
