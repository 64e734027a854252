# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by every module (documented in doc_fragments/common.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

COMMON = dict(
    netns=dict(type='str'),
    lock_timeout=dict(type='int', default=120),
)

# Options of the modules that generate files (documented in doc_fragments/files.py).
FILE_COMMON = dict(
    backup=dict(type='bool', default=False),
    lock_timeout=dict(type='int', default=120),
)


def argument_spec(options, common=None):
    spec = copy.deepcopy(options)
    spec.update(copy.deepcopy(COMMON if common is None else common))
    return spec
