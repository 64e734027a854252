#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: vlan
short_description: Create, change and remove VLAN links (802.1Q, 802.1ad QinQ)
version_added: 0.1.0
description:
  - Declares one VLAN link on a parent link - a NIC, a bond, a bridge or another VLAN (for QinQ, an C(802.1q) VLAN on an
    C(802.1ad) one).
  - The parent may be created in the same run by another task or, with M(seed.nodenet.network), in the same plan;
    links are created parents first.
  - A VLAN's MTU can't exceed its parent's (after the run); that is checked before anything is changed.
  - I(parent), I(vlan_id) and I(protocol) are fixed when the kernel creates the link; the module refuses to change
    them in place and says so.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.netdev
  - seed.nodenet.common
options:
  parent:
    description: The link the VLAN sits on. Required to create the VLAN.
    type: str
  vlan_id:
    description: VLAN ID, 1-4094. Required to create the VLAN.
    type: int
  protocol:
    description: Tag protocol. C(802.1ad) is the outer (service) tag of QinQ. Default C(802.1q) when creating.
    type: str
    choices: [802.1q, 802.1ad]
seealso:
  - module: seed.nodenet.bond
  - module: seed.nodenet.bridge
  - module: seed.nodenet.network_info
'''

EXAMPLES = r'''
- name: VLAN 100 on a bond, with jumbo frames
  seed.nodenet.vlan:
    name: bond0.100
    parent: bond0
    vlan_id: 100
    mtu: 9000
    up: true

- name: QinQ - customer VLAN 10 inside service VLAN 300
  block:
    - name: Outer (service) tag
      seed.nodenet.vlan:
        name: eth1.300
        parent: eth1
        vlan_id: 300
        protocol: 802.1ad
        up: true
    - name: Inner (customer) tag
      seed.nodenet.vlan:
        name: eth1.300.10
        parent: eth1.300
        vlan_id: 10
        up: true

- name: Remove a VLAN
  seed.nodenet.vlan:
    name: bond0.100
    state: absent
'''

RETURN = r'''
vlan:
  description: The VLAN's status (LinkStatus) after the run; in check mode, as it is now. Null when absent.
  returned: always
  type: dict
  sample:
    name: bond0.100
    kind: vlan
    parent: bond0
    vlan_id: 100
    protocol: 802.1q
    up: true
    mtu: 9000
    operational_state: up
    hardware_addr: "02:00:00:00:00:0a"
operations:
  description: The planned operations, in the order they are (or in check mode would be) applied.
  returned: always
  type: list
  elements: str
  sample: ["create vlan bond0.100"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import vlan
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import run_single


def main():
    module = AnsibleModule(argument_spec=argument_spec(vlan.OPTIONS), supports_check_mode=True)
    run_single(module, vlan.KIND)


if __name__ == '__main__':
    main()
