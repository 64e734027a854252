# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  netns:
    description:
      - Run inside this network namespace instead of the node's own.
      - A name under C(/var/run/netns) (as made by C(ip netns add)) or an absolute path to a namespace file.
      - The namespace must exist; it is never created, so a typo fails instead of configuring an empty namespace.
    type: str
requirements:
  - Linux with netlink (the target), run as root or with CAP_NET_ADMIN.
  - Python library pyroute2 >= 0.7.3 on the target (see the prereqs notes in the README).
attributes:
  action_group:
    support: full
    membership: [seed.nodenet.nodenet]
    description: C(module_defaults) for C(group/seed.nodenet.nodenet) set I(netns) once for every module of the group.
  check_mode:
    support: full
    description: The plan is computed from the kernel's state and reported; nothing is changed.
  diff_mode:
    support: full
    description: One before/after diff per object the plan creates, changes or removes.
notes:
  - Every run validates all input before touching the kernel, applies a plan of operations in dependency order,
    re-reads the kernel to verify the result, and rolls back every applied operation if any step fails.
  - Only the fields you set are compared and changed; everything else is left as the kernel has it.
  - In check mode, a reference to a link that does not exist yet (an earlier task of the play would create it)
    is a warning and the result carries C(unverified); in a real run it is an error naming the field.
'''
