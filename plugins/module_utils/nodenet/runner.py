# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pipeline behind every module: validate, observe, plan, (check/diff), apply, verify, roll back."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import diff as diffmod
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import lock
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.apply import apply_plan
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, MissingReference, NodenetError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import check_netns, open_netlink
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import State
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import normalize, plan, summary
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS, READERS


def converge(desired, netns=None, check_mode=False, lock_timeout=None, task=None, **kwargs):
    """_converge() under the node lock (check mode reads without it; see lock.call)."""
    return lock.call(lambda: _converge(desired, netns=netns, check_mode=check_mode, **kwargs), netns, check_mode,
                     lock_timeout, task or 'seed.nodenet.%s' % ', '.join(sorted(desired)))


def _converge(desired, netns=None, check_mode=False, diff_mode=False, fail_after=None):
    """Make the node match `desired` ({kind: [entries]}). Returns a result dict.

    Raises NodenetError (ValidationError before anything is touched, ApplyError
    after a rolled-back failure).
    """
    records = normalize(desired)
    check_netns(netns)
    nl = open_netlink(netns)
    try:
        state = State(nl, READERS)
        ctx = {}
        ops = plan(records, state, ctx)
        _cross_checks(records, state, ops)
        result = {'changed': bool(ops), 'operations': [summary(op) for op in ops]}
        if ctx.get('warnings'):
            result['warnings'] = ctx['warnings']
        if diff_mode:
            result['diff'] = diffmod.plan_diff(ops)
        if not check_mode and ops:
            apply_plan(nl, ops, fail_after=fail_after, state=state)
            state = State(nl, READERS)
        # read what the caller reports on before the socket closes
        result['_state'] = dict((kind, state.get(kind)) for kind in desired)
        result['_records'] = records
        return result
    finally:
        nl.close()


def _cross_checks(records, state, ops):
    """The whole-node rules a single entry can break too: a link's MTU against its parent's, a route's
    source against the node's addresses."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
    if records.get('link'):
        network.check_mtus(network._final_links(records, state, ops))
    if any(r.get('source') for r in records.get('route', [])):
        network.check_sources(records, network._final_addresses(records, state, ops))


def run_single(module, kind):
    """Entry point for a single-kind module: the module's params are one entry."""
    params = dict((k, val) for k, val in module.params.items() if k in KINDS[kind].OPTIONS and val is not None)
    fail_after = os.environ.get('NODENET_TEST_FAIL_AFTER')
    try:
        result = converge({kind: [params]}, netns=module.params.get('netns'),
                          check_mode=module.check_mode, diff_mode=module._diff,
                          fail_after=int(fail_after) if fail_after else None, lock_timeout=module.params.get('lock_timeout'))
    except MissingReference as e:
        if not module.check_mode:
            module.fail_json(msg=str(e), field=e.field)
        # In check mode an earlier task of the same play may be what creates it.
        module.warn('check mode: %s; this run would fail unless an earlier task creates it' % e)
        module.exit_json(changed=True, operations=[], unverified=str(e))
    except ApplyError as e:
        module.fail_json(msg=str(e), rolled_back=e.rolled_back, rollback_errors=e.rollback_errors)
    except NodenetError as e:
        module.fail_json(msg=str(e), field=e.field)
    for w in result.pop('warnings', []):
        module.warn(w)
    state = result.pop('_state')
    rec = result.pop('_records')[kind][0]
    objs = state[kind]
    k = KINDS[kind].key(rec)
    if kind == 'rule':
        matches = [r for r in objs.values() if KINDS[kind].matches(rec, r)]
        result[kind] = matches[0] if matches else None
    else:
        result[kind] = objs.get(k)
    if hasattr(KINDS[kind], 'module_result'):
        result.update(KINDS[kind].module_result(rec, result[kind]))
    module.exit_json(**result)
