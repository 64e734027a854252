# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole node's network in one plan: every netlink kind plus the generated /etc files.

validate everything (each entry, then cross-object rules) -> observe -> plan (+ purge)
-> check/diff -> apply with the journal -> files -> on any failure roll everything back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
from typing import Any, Callable, Dict, Optional

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import adapter
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import checks
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import diff as diffmod
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.apply import apply_plan, rollback
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, NodenetError, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import lock
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import firewall as fwkind
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.etcfile import restore as restore_files
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import check_netns, open_netlink
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import State
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import normalize, plan, summary
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import (ALL_SECTIONS, KINDS, NODE_SECTIONS, PURGEABLE, READERS,
                                                                                    SECTIONS, section_of)


def sections():
    """The netlink sections this engine can run: [(option name, kind)]."""
    return list(SECTIONS)


# ---------------------------------------------------------------- validate
def normalize_spec(spec):
    """{section: entries} -> {kind: [records]} for every kind, the mapping sections (files, firewall)
    as one entry each; raises ValidationError."""
    known = set(s for s, dummy in ALL_SECTIONS)
    for s in spec:
        if s not in known:
            raise ValidationError("unknown section; this engine has: %s" % ', '.join(sorted(known)), s)
    desired = {}
    for s, kind in sections():
        entries = spec.get(s) or []
        if not isinstance(entries, list):
            raise ValidationError('must be a list of entries', s)
        out = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise ValidationError('must be a mapping of options', '%s[%d]' % (s, i))
            entry = dict((k, val) for k, val in entry.items() if val is not None)
            entry['_where'] = '%s[%d]' % (s, i)
            out.append(entry)
        if out:
            desired[kind] = out
    for s, kind in NODE_SECTIONS:
        if spec.get(s) is not None:
            entry = spec[s] if not isinstance(spec[s], dict) else dict(spec[s], _where=s)
            desired[kind] = [entry]
    return normalize(desired)


# ---------------------------------------------------------------- the pipeline
def object_diff(ops):
    """One before/after per changed object, grouped by section in dependency order, only what changes
    (a kind with its own diff(op), the files and the firewall, gives its entries)."""
    rank = dict((k, i) for i, (dummy, k) in enumerate(ALL_SECTIONS))
    out = []
    for op in sorted(ops, key=lambda o: (rank.get(o['kind'], 99), o['key'])):
        if hasattr(KINDS[op['kind']], 'diff'):
            out.extend(KINDS[op['kind']].diff(op) or [])
            continue
        d = diffmod.op_diff(op)
        label = '%s: %s%s' % (section_of(op['kind']), op['key'], ' (purged)' if op.get('purge') else '')
        d['before_header'] = '%s (%s)' % (label, 'absent' if op['action'] == 'create' else 'before')
        d['after_header'] = '%s (%s)' % (label, 'absent' if op['action'] == 'delete' else 'after')
        out.append(d)
    return out


def converge(spec: Dict[str, Any], netns: Optional[str] = None, check_mode: bool = False, lock_timeout: Optional[float] = None,
             task: str = 'seed.nodenet.network', **kwargs: Any) -> Dict[str, Any]:
    """_converge() under the node lock (check mode reads without it; see lock.call)."""
    return lock.call(lambda: _converge(spec, netns=netns, check_mode=check_mode, **kwargs), netns, check_mode,
                     lock_timeout, task)


def _converge(spec, netns=None, purge=(), check_mode=False, diff_mode=False, fail_after=None, run=None, on_applied=None,
              extra_operations=(), extra_diff=(), guarded=False):
    """Make the node match `spec` ({section: entries}). Returns a result dict; raises NodenetError.

    One plan for every kind (links ... rules, then the /etc files, then the firewall), one check/diff
    pass, one journal, one rollback. run(argv, data=None, binary_data=False) runs commands (nft,
    hostnamectl, resolvectl): the module's run_command; None runs them directly.
    on_applied(journal, file_snapshots): called after a successful apply (not in check mode, not when
    nothing changed): confirm-or-revert and persistence hook in there. If it raises, everything is
    rolled back. extra_operations/extra_diff: what the caller's hook will change (persistence).
    guarded: the change will be under confirm-or-revert: an operation the watchdog could not undo from
    its journal (kind.unguardable) is refused before anything is touched.
    """
    records = normalize_spec(spec)
    for p in purge:
        if p not in PURGEABLE:      # before the namespace is entered
            raise ValidationError("'%s' can't be purged; choose from: %s" % (p, ', '.join(sorted(PURGEABLE))), 'purge')
    check_netns(netns)
    nl = open_netlink(netns)
    nl.nodenet_run = run
    try:
        state = State(nl, READERS)
        ctx = {'netns': netns, 'run': run}
        ops = plan(records, state, ctx, purge=purge)
        checks.whole_node(records, state, ops)
        if guarded:
            for op in ops:
                why = KINDS[op['kind']].unguardable(op) if hasattr(KINDS[op['kind']], 'unguardable') else None
                if why:
                    raise ValidationError(why, 'rollback_timeout')
        result = {'changed': bool(ops) or bool(extra_operations),
                  'operations': [summary(op) + (' (purge)' if op.get('purge') else '') for op in ops] + list(extra_operations)}
        warnings = list(ctx.get('warnings', []))
        if diff_mode:
            result['diff'] = object_diff(ops) + list(extra_diff)
        if check_mode or not result['changed']:
            result['warnings'] = warnings
            return result
        journal = apply_plan(nl, ops, fail_after=fail_after, state=state) if ops else []
        snaps = []
        try:
            if on_applied is not None:
                on_applied(journal, snaps)
        except Exception as e:  # noqa: BLE001
            failed = e if isinstance(e, NodenetError) else NodenetError(str(e))
            errors = rollback(nl, journal) + restore_files(snaps)
            if errors:
                msg = "%s; ROLLBACK INCOMPLETE: %s" % (failed, '; '.join(errors))
            elif journal:
                msg = "%s; rolled back the %d operation(s) already applied, the node is as it was" % (failed, len(journal))
            else:
                msg = "%s; nothing was changed" % failed
            raise ApplyError(msg, rolled_back=not errors, rollback_errors=errors)
        if any(op['kind'] == 'firewall' for op in ops):
            result['firewall'] = fwkind.installed(ops, ctx)
        result['warnings'] = warnings
        result['_journal'] = journal
        return result
    finally:
        nl.close()


# ---------------------------------------------------------------- the module
def module_spec():
    """The network module's argument spec: one list option per section the engine can run."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import persist
    spec = {}
    for s, kind in sections():
        spec[s] = dict(type='list', elements='dict')
        if _secret_options(KINDS[kind].OPTIONS):
            # Ansible masks these only if it knows them: this section gets the kind's own argument spec
            spec[s]['options'] = KINDS[kind].OPTIONS
            spec[s].update(getattr(KINDS[kind], 'RULES', {}))
    for s, kind in NODE_SECTIONS:
        spec[s] = dict(type='dict', options=KINDS[kind].OPTIONS)
    spec['talos_config'] = dict(type='raw')
    spec.update(
        purge=dict(type='list', elements='str', choices=sorted(PURGEABLE), default=[]),
        rollback_timeout=dict(type='int'),
        confirm=dict(type='bool', default=False),
        persist=dict(type='bool'),
        persist_path=dict(type='path', default=persist.STATE_FILE),
        persist_unit=dict(type='path', default=persist.UNIT_FILE),
        persist_engine_dir=dict(type='path', default=persist.ENGINE_DIR),
    )
    return spec


def _secret_options(options, prefix=''):
    """Dotted names of the no_log options of an argument spec (nested suboptions included)."""
    out = []
    for name, o in options.items():
        if o.get('no_log'):
            out.append(prefix + name)
        if o.get('options'):
            out.extend(_secret_options(o['options'], prefix + name + '.'))
    return out


def _inline_secrets(spec):
    """[(field, section)] of secrets given inline in the state (e.g. wireguard[0].private_key)."""
    found = []
    for s, kind in sections():
        names = _secret_options(KINDS[kind].OPTIONS)
        for i, entry in enumerate(spec.get(s) or []):
            for name in names:
                head, dummy, tail = name.partition('.')
                if not tail and entry.get(head) is not None:
                    found.append('%s[%d].%s' % (s, i, head))
                for j, sub in enumerate(entry.get(head) or [] if tail else []):
                    if isinstance(sub, dict) and sub.get(tail) is not None:
                        found.append('%s[%d].%s[%d].%s' % (s, i, head, j, tail))
    return found


def _strip(value):
    if isinstance(value, dict):
        return dict((k, _strip(val)) for k, val in value.items() if val is not None)
    if isinstance(value, list):
        return [_strip(x) for x in value]
    return value


def run_module(module: Any) -> None:
    """Entry point of seed.nodenet.network: the engine's run() through the Ansible adapter."""
    adapter.run(module, lambda: run(module.params, check_mode=module.check_mode, diff_mode=module._diff,
                                    run_command=module.run_command, hide=module.no_log_values.update))


def run(p: Dict[str, Any], check_mode: bool = False, diff_mode: bool = False, run_command: Optional[Callable[..., Any]] = None,
        hide: Optional[Callable[[Any], Any]] = None) -> Dict[str, Any]:
    """The network module on plain data: p is its parameters (every option, None when unset).
    Returns the module's result; raises NodenetError. run_command(argv, data=None, binary_data=False)
    runs commands on the node (nft, systemctl, hostnamectl; Ansible's module.run_command).
    hide(values): called with the secrets found in talos_config before anything can print them."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import agent, persist
    netns = p.get('netns')
    names = [s for s, dummy in ALL_SECTIONS]
    spec = dict((s, _strip(p[s])) for s in names if p.get(s) is not None)
    if p.get('confirm'):
        # not in the argument spec's mutually_exclusive: that would refuse an explicit `confirm: false` beside them
        extra = [k for k in names + ['rollback_timeout', 'persist', 'talos_config'] if p.get(k) is not None]
        if extra:
            raise ValidationError('confirm: true only confirms the change a previous task applied; '
                                  'declare %s in a separate task' % ', '.join(extra), 'confirm')
        return agent.confirm_task(netns, check_mode, p.get('lock_timeout'))
    talos_unmapped, talos_warnings = [], []
    if p.get('talos_config') is not None:
        # the Talos translators load only for a task that gives talos_config (start-up of every other task)
        from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos import adopt as talos_adopt
        spec, talos_unmapped, talos_secrets = talos_adopt.adopt(p['talos_config'], spec, netns)
        if hide is not None:
            hide(talos_secrets)
        talos_warnings = talos_adopt.warnings(talos_unmapped)
    timeout = p.get('rollback_timeout')
    if timeout is not None:
        v.integer(timeout, 'rollback_timeout', 1, 86400)
        secrets = _inline_secrets(spec)
        if secrets:
            raise ValidationError("%s is given inline: undoing the change would need that key (a private key, or a "
                                  "preshared one), which is never written to the journal; keep the private key in a file on "
                                  "the node (private_key_file) or apply this section in a task without rollback_timeout"
                                  % secrets[0], 'rollback_timeout')
    if p.get('persist'):
        secrets = _inline_secrets(spec)
        if secrets:
            raise ValidationError("persist: true would write this key to %s; keep it in a file on the node "
                                  "(private_key_file) instead" % p['persist_path'], secrets[0])
    pchanges = []
    if p.get('persist') is not None:
        pchanges = persist.persist_plan(p['persist'], spec, netns, p['purge'], p['persist_path'], p['persist_unit'],
                                        p['persist_engine_dir'])
    pops = ['%s %s' % ('remove' if after is None else 'write', path) for path, dummy, after in pchanges]
    pdiff = [{'before_header': 'persist: %s' % path, 'after_header': 'persist: %s' % path,
              'before': before if isinstance(before, str) and path != p['persist_engine_dir'] else '',
              'after': after or ''} for path, before, after in pchanges]
    armed = {}

    def on_applied(journal, snaps):
        if pchanges:
            snaps.append({'section': 'persist', 'files': dict(
                (path, before) for path, before, dummy in pchanges
                if path != p['persist_engine_dir'] and not os.path.islink(path) and before != p['persist_unit'])})
            persist.persist_apply(p['persist'], pchanges, p['persist_unit'], p['persist_engine_dir'], run=run_command)
        if timeout and (journal or snaps):
            armed.update(agent.arm(journal, snaps, timeout, netns, run=run_command))

    result = converge(spec, netns=netns, purge=p.get('purge') or [], check_mode=check_mode, diff_mode=diff_mode,
                      run=run_command, on_applied=on_applied, extra_operations=pops, extra_diff=pdiff,
                      lock_timeout=p.get('lock_timeout'), guarded=bool(timeout))
    result.pop('_journal', None)
    result['rollback'] = armed or None
    if p.get('talos_config') is not None:
        result['warnings'] = talos_warnings + (result.get('warnings') or [])
        result['talos_unmapped'] = talos_unmapped
    return result
