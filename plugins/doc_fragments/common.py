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
  lock_timeout:
    description:
      - How many seconds to wait for the node lock before failing. Every run that changes a node (this module, every
        other C(seed.nodenet) module, the boot unit, C(seed.nodenet.confirm)) holds the lock of its network namespace
        from reading the kernel to verifying the result, so two runs at once (two playbooks, overlapping AWX jobs, a
        timer) take turns instead of mixing their changes.
      - A change applied with C(rollback_timeout) holds the node until it is confirmed or reverted.
      - When the time is up the run fails, changing nothing, naming the holder (pid, process, task, since when).
      - C(0) fails at once when the node is busy; C(-1) waits as long as it takes.
      - Check mode and M(seed.nodenet.network_info) read without the lock (they never wait) and warn when another run
        holds it.
    type: int
    default: 120
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
