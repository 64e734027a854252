#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: confirm
short_description: Keep a network change applied with rollback_timeout (confirm-or-revert)
version_added: 0.1.0
description:
  - Confirms the change that M(seed.nodenet.network) applied with I(rollback_timeout) on this node (or in I(netns));
    its watchdog exits without reverting it. Like C(talosctl apply-config --mode=try) followed by a confirmation.
  - Running this task at all proves the controller still reaches the node after the change.
  - Nothing pending is not an error (C(changed=false)). A change the watchdog already reverted fails the task,
    saying when it was reverted.
  - A confirmation that arrives while the change is still being applied waits for it.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.common
attributes:
  check_mode:
    support: full
    description: Reports whether a change is waiting for confirmation; confirms nothing.
  diff_mode:
    support: none
    description: Nothing to diff.
seealso:
  - module: seed.nodenet.network
'''

EXAMPLES = r'''
- name: Keep the change the previous task applied
  seed.nodenet.confirm:

- name: The same, in a lab namespace
  seed.nodenet.confirm:
    netns: lab-node1
'''

RETURN = r'''
confirmed:
  description: Whether a pending change was confirmed by this task.
  returned: always
  type: bool
  sample: true
applied_at:
  description: When the confirmed change was applied (UTC).
  returned: when a change was confirmed
  type: str
  sample: "2026-01-01T12:00:00Z"
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import adapter
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.agent import confirm_task
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec


def main():
    module = AnsibleModule(argument_spec=argument_spec({}), supports_check_mode=True)
    adapter.run(module, lambda: confirm_task(module.params['netns'], module.check_mode, module.params['lock_timeout']))


if __name__ == '__main__':
    main()
