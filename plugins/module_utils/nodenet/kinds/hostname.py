# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `hostname` section of the network module as a kind: /etc/hostname and the kernel's names
(UTS namespace), planned and undone like every other kind (kinds/etcfile.py: KIND, SECTION, RANK, ...)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import hostname as engine
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.etcfile import FileKind

INFO = None         # network_info reads it itself (hostname)
OPTIONS = dict(hostname=dict(type='str', required=True),
               path=dict(type='path', default=engine.HOSTNAME_FILE))

FileKind('hostname', lambda p, files, **kw: engine.converge(p, path=files['path'], **kw),
         dict(path=engine.HOSTNAME_FILE), lambda p: engine.normalize(p.get('hostname')),
         ('hostname', 'kernel_changes', 'method', 'path', 'backup_file')).bind(globals())
