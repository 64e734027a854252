#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: bridge
short_description: Create, change and remove Linux bridges, their ports, STP and VLAN filtering
version_added: 0.1.0
description:
  - Declares one bridge and, with I(links), exactly which links are its ports, each optionally with its own STP cost,
    priority and VLANs.
  - Only the attributes you set are sent to the kernel; the rest keep the kernel's defaults (or their current values).
  - Ports may be created in the same run (VLANs, bonds, veths); links are created before the bridge takes them.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.netdev
  - seed.nodenet.common
options:
  links:
    description:
      - The bridge's ports, exactly. A link that is a port now and is not listed is released; omit I(links) to leave
        the ports alone.
      - Each item is a link name, or a dictionary with C(name) and per-port options.
      - C(cost) STP path cost of the port, 1-65535.
      - C(priority) STP priority of the port, 0-63.
      - C(vlans) the port's VLANs, exactly (needs I(vlan_filtering=true)); a list of VLAN IDs or of dictionaries with
        C(vid) (1-4094), C(pvid) (untagged frames arriving on the port go to this VLAN; at most one) and C(untagged)
        (frames of this VLAN leave the port untagged). Listing C(vlans) removes the port's other VLANs, the default
        VLAN 1 included.
    type: list
    elements: raw
  stp:
    description: Spanning tree settings. Timers are in seconds.
    type: dict
    suboptions:
      enabled:
        description: Run STP on the bridge.
        type: bool
      forward_delay:
        description: Time in the listening and learning states, 2-30 s.
        type: int
      hello_time:
        description: Interval between hello packets, 1-10 s.
        type: int
      max_age:
        description: Maximum age of received hello information, 6-40 s.
        type: int
      priority:
        description: Bridge priority, 0-65535 (lower wins the root election).
        type: int
  vlan_filtering:
    description: Filter frames by VLAN on every port (per-port VLANs). The kernel needs CONFIG_BRIDGE_VLAN_FILTERING.
    type: bool
  default_pvid:
    description: VLAN given to ports when they join a VLAN-filtering bridge, 1-4094; 0 adds none.
    type: int
seealso:
  - module: seed.nodenet.bond
  - module: seed.nodenet.vlan
  - module: seed.nodenet.network_info
'''

EXAMPLES = r'''
- name: A bridge for VMs on VLAN 100 of a bond
  seed.nodenet.bridge:
    name: br100
    links: [bond0.100]
    stp:
      enabled: false
    up: true

- name: STP with a preferred port
  seed.nodenet.bridge:
    name: br0
    links:
      - eth1
      - name: eth2
        cost: 10
        priority: 8
    stp:
      enabled: true
      forward_delay: 4
      hello_time: 1
      max_age: 6
      priority: 4096
    up: true

- name: A VLAN-aware bridge - trunk on eth1, access ports on VLAN 20
  seed.nodenet.bridge:
    name: br1
    vlan_filtering: true
    default_pvid: 0
    links:
      - name: eth1
        vlans: [10, 20, 30]
      - name: veth-vm1
        vlans:
          - {vid: 20, pvid: true, untagged: true}
    up: true

- name: Remove the bridge (its ports stay)
  seed.nodenet.bridge:
    name: br1
    state: absent
'''

RETURN = r'''
bridge:
  description: The bridge's status (LinkStatus) after the run; in check mode, as it is now. Null when absent.
  returned: always
  type: dict
  sample:
    name: br0
    kind: bridge
    up: true
    mtu: 1500
    stp: true
    forward_delay: 4
    hello_time: 1
    max_age: 6
    priority: 4096
    vlan_filtering: false
    default_pvid: 1
    ports: [eth1, eth2]
operations:
  description: The planned operations, in the order they are (or in check mode would be) applied.
  returned: always
  type: list
  elements: str
  sample: ["create bridge br0"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import bridge
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import run_single


def main():
    module = AnsibleModule(argument_spec=argument_spec(bridge.OPTIONS), supports_check_mode=True)
    run_single(module, bridge.KIND)


if __name__ == '__main__':
    main()
