# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pipeline behind every module: validate, observe, plan, (check/diff), apply, verify, roll back."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any, Callable, Dict, List, Optional

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import adapter
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import checks
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import diff as diffmod
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import lock
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.apply import apply_plan
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import MissingReference
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import check_netns, open_netlink
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import State
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import normalize, plan, summary
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS, READERS


def converge(desired: Dict[str, List[Dict[str, Any]]], netns: Optional[str] = None, check_mode: bool = False,
             lock_timeout: Optional[float] = None, task: Optional[str] = None, **kwargs: Any) -> Dict[str, Any]:
    """_converge() under the node lock (check mode reads without it; see lock.call)."""
    return lock.call(lambda: _converge(desired, netns=netns, check_mode=check_mode, **kwargs), netns, check_mode,
                     lock_timeout, task or 'seed.nodenet.%s' % ', '.join(sorted(desired)))


def _converge(desired: Dict[str, List[Dict[str, Any]]], netns: Optional[str] = None, check_mode: bool = False,
              diff_mode: bool = False, fail_after: Optional[int] = None, run: Optional[Callable[..., Any]] = None,
              context: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Make the node match `desired` ({kind: [entries]}). Returns a result dict.

    run(argv, data=None, binary_data=False) runs commands on the node (nft, hostnamectl, resolvectl):
    the module's run_command; None runs them directly. context: what the kinds' plan may read besides
    netns and run (the firewall's `environ`, where the lock-out guard finds the SSH session; a file
    module's `backup(path)`, called before a file is replaced).
    Raises NodenetError (ValidationError before anything is touched, ApplyError
    after a rolled-back failure).
    """
    records = normalize(desired)
    check_netns(netns)
    nl = open_netlink(netns)
    nl.nodenet_run = run
    ctx = dict(context or {}, netns=netns, run=run)
    nl.nodenet_backup = ctx.get('backup')
    try:
        state = State(nl, READERS)
        ops = plan(records, state, ctx)
        checks.single_kind(records, state, ops)
        result = {'changed': bool(ops), 'operations': [summary(op) for op in ops]}
        if ctx.get('warnings'):
            result['warnings'] = ctx['warnings']
        if diff_mode:
            result['diff'] = diffmod.plan_diff(ops, KINDS)
        if not check_mode and ops:
            apply_plan(nl, ops, fail_after=fail_after, state=state)
            state = State(nl, READERS)
        # read what the caller reports on before the socket closes (a kind with report() reads its own)
        result['_state'] = dict((kind, state.get(kind)) for kind in desired if not hasattr(KINDS[kind], 'report'))
        result['_records'] = records
        result['_ops'] = ops
        result['_ctx'] = dict(ctx, check_mode=check_mode, diff_mode=diff_mode)
        return result
    finally:
        nl.close()


def single(kind: str, params: Dict[str, Any], netns: Optional[str] = None, check_mode: bool = False,
           diff_mode: bool = False, lock_timeout: Optional[float] = None, run: Optional[Callable[..., Any]] = None,
           context: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A single-kind module's run on plain data: `params` is one entry. Returns the module's result
    (the object after the run under the kind's name, plus kind.module_result; or, for a kind that reports
    more than one object - the files, the firewall - kind.report); raises NodenetError."""
    K = KINDS[kind]
    entry = dict((k, val) for k, val in params.items() if k in K.OPTIONS and val is not None)
    try:
        result = converge({kind: [entry]}, netns=netns, check_mode=check_mode, diff_mode=diff_mode, lock_timeout=lock_timeout,
                          run=run, context=context)
    except MissingReference as e:
        if not check_mode:
            raise
        # In check mode an earlier task of the same play may be what creates it.
        return {'changed': True, 'operations': [], 'unverified': str(e),
                'warnings': ['check mode: %s; this run would fail unless an earlier task creates it' % e]}
    state = result.pop('_state')
    rec = result.pop('_records')[kind][0]
    ops, ctx = result.pop('_ops'), result.pop('_ctx')
    if hasattr(K, 'report'):
        out = K.report(rec, ops, ctx)
        warnings = result.get('warnings', []) + [w for w in out.pop('warnings', []) if w not in result.get('warnings', [])]
        result.update(out)
        if warnings:
            result['warnings'] = warnings
        return result
    objs = state[kind]
    if hasattr(K, 'result'):
        result[kind] = K.result(rec, objs)
    elif hasattr(K, 'matches'):
        matches = [r for r in objs.values() if K.matches(rec, r)]
        result[kind] = matches[0] if matches else None
    else:
        result[kind] = objs.get(K.key(rec))
    if hasattr(K, 'module_result'):
        result.update(K.module_result(rec, result[kind]))
    return result


def run_single(module: Any, kind: str) -> None:
    """Entry point for a single-kind module: the module's params are one entry; a file module's
    `backup: true` keeps a copy of each file before it is replaced (AnsibleModule.backup_local)."""
    p = module.params
    context = {'backup': module.backup_local if p.get('backup') else None}
    adapter.run(module, lambda: single(kind, p, netns=p.get('netns'), check_mode=module.check_mode, diff_mode=module._diff,
                                       lock_timeout=p.get('lock_timeout'), run=module.run_command, context=context))
