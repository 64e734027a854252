# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `hosts` section of the network module as a kind: the managed block of /etc/hosts, planned
and undone like every other kind (kinds/etcfile.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import hosts as engine
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.etcfile import RANK as FILE_RANK, FileKind

KIND = SECTION = 'hosts'
RANK = FILE_RANK
LINK = False
SINGLE = True       # one mapping per node, not a list of entries
FEATURE = None
INFO = None
OPTIONS = dict(entries=dict(type='list', elements='dict', default=[],
                            options=dict(ip=dict(type='str', required=True),
                                         aliases=dict(type='list', elements='str', required=True))),
               exclusive=dict(type='bool', default=False),
               path=dict(type='path', default=engine.HOSTS))

FileKind(SECTION,
         lambda p, run=None, **kw: engine.converge(p, path=p.get('path') or engine.HOSTS, **kw),
         lambda p: [p.get('path') or engine.HOSTS],
         lambda p: engine.normalize(p.get('entries') or [])).bind(globals())
