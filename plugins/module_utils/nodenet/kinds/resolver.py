# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `resolver` section of the network module as a kind: /etc/resolv.conf (or systemd-resolved's
drop-in), planned and undone like every other kind (kinds/etcfile.py: KIND, SECTION, RANK, ...)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import resolver as engine
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.etcfile import FileKind

INFO = None         # network_info reads it itself (resolvers)
OPTIONS = dict(nameservers=dict(type='list', elements='str'),
               search_domains=dict(type='list', elements='str'),
               options=dict(type='dict'),
               path=dict(type='path', default=engine.RESOLV_CONF),
               dropin_path=dict(type='path', default=engine.DROPIN))

FileKind('resolver', lambda p, files, **kw: engine.converge(p, path=files['path'], dropin=files['dropin_path'], **kw),
         dict(path=engine.RESOLV_CONF, dropin_path=engine.DROPIN), engine.normalize,
         ('manager', 'path', 'writers', 'reloaded', 'backup_file', 'resolver')).bind(globals())
