# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `resolver` section of the network module as a kind: /etc/resolv.conf (or systemd-resolved's
drop-in), planned and undone like every other kind (kinds/etcfile.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import resolver as engine
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.etcfile import RANK as FILE_RANK, FileKind

KIND = SECTION = 'resolver'
RANK = FILE_RANK
LINK = False
SINGLE = True       # one mapping per node, not a list of entries
FEATURE = None
INFO = None         # network_info reads it itself (resolvers)
OPTIONS = dict(nameservers=dict(type='list', elements='str'),
               search_domains=dict(type='list', elements='str'),
               options=dict(type='dict'),
               path=dict(type='path', default=engine.RESOLV_CONF),
               dropin_path=dict(type='path', default=engine.DROPIN))

FileKind(SECTION,
         lambda p, run=None, **kw: engine.converge(p, path=p.get('path') or engine.RESOLV_CONF,
                                                   dropin=p.get('dropin_path') or engine.DROPIN, run=run, **kw),
         lambda p: [p.get('path') or engine.RESOLV_CONF, p.get('dropin_path') or engine.DROPIN],
         engine.normalize).bind(globals())
