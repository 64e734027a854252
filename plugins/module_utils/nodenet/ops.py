# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operations, the unit of a plan: {kind, action, key, before, after}."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def make(kind, action, key, before=None, after=None):
    return {'kind': kind, 'action': action, 'key': key, 'before': before, 'after': after}


def swap(op):
    """The inverse of an operation whose records say everything needed to redo the other
    side: a creation is undone by deleting what it made, a deletion by creating what was
    there (the kind records it in `before`), a change by the opposite change."""
    inv = {'create': 'delete', 'delete': 'create', 'modify': 'modify'}[op['action']]
    return make(op['kind'], inv, op['key'], before=op['after'], after=op['before'])
