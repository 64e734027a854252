# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a plan as Ansible before/after diffs, one per changed object."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

HIDDEN = ('_where', 'depth', 'index', 'link_index', 'min_mtu', 'max_mtu', 'flags', 'operational_state')


def _fmt(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if value is None:
        return 'null'
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _block(kind, key, fields):
    if fields is None:
        return ''
    lines = ['%s %s:' % (kind, key)]
    for k in sorted(fields):
        if k in HIDDEN or k.startswith('_'):
            continue
        lines.append('  %s: %s' % (k, _fmt(fields[k])))
    return '\n'.join(lines) + '\n'


def op_diff(op):
    kind, key, action = op['kind'], op['key'], op['action']
    header = '%s %s' % (kind, key)
    if action == 'create':
        before, after = None, op['after']
    elif action == 'delete':
        before, after = op['before'], None
    else:
        changed = op.get('changes') or [k for k in op['after'] if (op['before'] or {}).get(k) != op['after'].get(k)]
        before = dict((k, (op['before'] or {}).get(k)) for k in changed)
        after = dict((k, op['after'].get(k)) for k in changed)
    return {
        'before_header': '%s (%s)' % (header, 'absent' if before is None else 'before'),
        'after_header': '%s (%s)' % (header, 'absent' if after is None else 'after'),
        'before': _block(kind, key, before),
        'after': _block(kind, key, after),
    }


def plan_diff(ops, kinds=None):
    """Every operation's before/after entries: a kind's own (kinds: the registry's KINDS; the firewall's
    `nft list table`, a file's text) or the fields that change."""
    out = []
    for op in ops:
        kind = (kinds or {}).get(op['kind'])
        out.extend((kind.diff(op) or []) if hasattr(kind, 'diff') else [op_diff(op)])
    return out
