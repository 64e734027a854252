# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Options and attributes shared by the modules that generate files (resolver, hosts, hostname)."""

    DOCUMENTATION = r'''
options:
  backup:
    description: Keep a copy of the file, with a timestamp in its name, before changing it.
    type: bool
    default: false
  lock_timeout:
    description:
      - How many seconds to wait for the node lock before failing (see M(seed.nodenet.network)). The lock is the one of
        the network namespace this module runs in; check mode reads without it.
    type: int
    default: 120
attributes:
  action_group:
    support: full
    membership: [seed.nodenet.files]
    description: C(module_defaults) for C(group/seed.nodenet.files) set I(backup) once for every module of the group.
  check_mode:
    support: full
    description: The new content is computed and compared; nothing is written.
'''
