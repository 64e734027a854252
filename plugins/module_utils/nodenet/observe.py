# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The observed state of a node: each object family read once, on demand."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import explain


class State(object):
    """Status records per kind, keyed like the planner keys desired objects.

    `readers` maps kind -> function(nl, state) -> {key: record}. A family is
    read the first time it is asked for, so a module reads only what it manages
    (plus the links, which every kind needs to turn names into indexes).
    """

    def __init__(self, nl, readers, only=None):
        """only: {kind: read_some(nl, state)} for kinds to re-read in part (verify: what a plan touched)."""
        self.nl = nl
        self.readers = readers
        self.only = only or {}
        self._cache = {}

    def get(self, kind):
        if kind not in self._cache:
            try:
                read = self.only.get(kind) or self.readers[kind]
                self._cache[kind] = read(self.nl, self)
            except Exception as e:  # noqa: BLE001
                if os.environ.get('NODENET_TRACE'):
                    raise
                raise explain(e, "reading %s from the kernel" % kind)
        return self._cache[kind]

    def links(self):
        return self.get('link')

    def link_name(self, index):
        """Name of the link with this ifindex, or None."""
        return self._by_index().get(index)

    def _by_index(self):
        if '_by_index' not in self._cache:
            self._cache['_by_index'] = dict((r['index'], name) for name, r in self.links().items())
        return self._cache['_by_index']


class StaticState(object):
    """A State built from data, for planner unit tests: {kind: {key: record}}."""

    def __init__(self, data):
        self.data = data

    def get(self, kind):
        return self.data.get(kind, {})

    def links(self):
        return self.get('link')

    def link_name(self, index):
        for name, r in self.links().items():
            if r.get('index') == index:
                return name
        return None
