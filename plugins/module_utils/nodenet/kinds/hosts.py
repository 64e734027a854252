# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `hosts` section of the network module as a kind: the managed block of /etc/hosts, planned
and undone like every other kind (kinds/etcfile.py: KIND, SECTION, RANK, ...)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import hosts as engine
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.etcfile import FileKind

OPTIONS = dict(entries=dict(type='list', elements='dict', default=[],
                            options=dict(ip=dict(type='str', required=True),
                                         aliases=dict(type='list', elements='str', required=True))),
               exclusive=dict(type='bool', default=False),
               path=dict(type='path', default=engine.HOSTS))

FileKind('hosts', lambda p, files, run=None, **kw: engine.converge(p, path=files['path'], **kw),
         dict(path=engine.HOSTS), lambda p: engine.normalize(p.get('entries') or []),
         ('path', 'entries', 'backup_file')).bind(globals())
