#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: link
short_description: Create, change and remove network links (veth, dummy, macvlan, vxlan) and set any link's MTU, state and address
version_added: 0.1.0
description:
  - Declares one network link. Creates C(veth) pairs, C(dummy), C(macvlan) and C(vxlan) links, and sets
    C(up), C(mtu), C(hardware_addr), C(txqueuelen) and C(alias) on any link, existing physical ones included.
  - Like a Talos C(LinkConfig), you say what the link must be; the module computes the operations, applies them
    through netlink (pyroute2), re-reads the kernel to verify, and rolls back if anything fails.
  - Only the options you set are managed. Settings fixed at creation (C(peer), C(parent), C(vni), C(local),
    C(remote), C(group), C(port), C(learning)) can't change in place; the module refuses and says so rather than
    silently recreating the link.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.common
options:
  name:
    description: Link name (1-15 bytes, no whitespace, C(/) or C(:)).
    type: str
    required: true
  state:
    description:
      - C(present) creates the link if it is missing (needs I(kind)) and sets the options given.
      - C(absent) removes it. Only links of the kinds this module creates can be removed; physical links never are.
        Removing one end of a veth pair removes both.
    type: str
    choices: [present, absent]
    default: present
  kind:
    description:
      - Link type to create. Required to create a link; optional for an existing link (if set, it must match).
    type: str
    choices: [veth, dummy, macvlan, vxlan]
  up:
    description: Administrative state; C(true) sets the link up, C(false) down.
    type: bool
  mtu:
    description: MTU in bytes, 68-65535, and within the range the link's driver reports (checked before apply).
    type: int
  hardware_addr:
    description: Unicast MAC address, for example C(02:00:00:00:00:01). Case and C(-) separators are normalised.
    type: str
  txqueuelen:
    description: Transmit queue length in packets.
    type: int
  alias:
    description: Free-form description stored in the kernel (IFLA_IFALIAS, up to 255 bytes).
    type: str
  peer:
    description: Name of the other end of a C(veth) pair (required for veth).
    type: str
  parent:
    description:
      - The link a C(macvlan) (required) or C(vxlan) (optional; required with I(group)) sits on.
      - Must exist or be declared in the same run.
    type: str
  macvlan_mode:
    description: Mode of a C(macvlan) link. Can be changed in place.
    type: str
    choices: [private, vepa, bridge, passthru, source]
  vni:
    description: VXLAN network identifier, 1-16777215 (required for vxlan).
    type: int
  local:
    description: Source IP address of a C(vxlan) link's tunnel packets.
    type: str
  remote:
    description: Unicast IP address of the remote C(vxlan) endpoint. Exclusive with I(group).
    type: str
  group:
    description: Multicast group of a C(vxlan) link. Needs I(parent). Exclusive with I(remote).
    type: str
  port:
    description: UDP destination port of a C(vxlan) link (default 4789 when creating).
    type: int
  learning:
    description: Whether a C(vxlan) link learns remote MAC addresses (default C(true) when creating).
    type: bool
  channels:
    description:
      - Queue counts of the NIC (RSS, multi-queue; C(ethtool -L)), like Talos's C(EthernetConfig) channels. Only the
        counts given are compared and changed.
      - A count above the driver's maximum, or a queue type the driver does not have, fails naming the setting and
        the driver before anything is changed.
    type: dict
    suboptions:
      rx:
        description: Receive-only queues.
        type: int
      tx:
        description: Transmit-only queues.
        type: int
      other:
        description: Queues for other purposes (link interrupts, SR-IOV).
        type: int
      combined:
        description: Queues that both receive and transmit (what most multi-queue NICs have).
        type: int
  rings:
    description:
      - Ring (descriptor queue) sizes of the NIC (C(ethtool -G)). Only the sizes given are compared and changed; a
        driver without ring settings (C(veth)), or a size above its maximum, fails naming the setting and the driver.
    type: dict
    suboptions:
      rx:
        description: Receive ring entries.
        type: int
      tx:
        description: Transmit ring entries.
        type: int
      rx_mini:
        description: Receive mini ring entries.
        type: int
      rx_jumbo:
        description: Receive jumbo ring entries.
        type: int
  features:
    description:
      - Offloads to turn on (C(true)) or off (C(false)), by the names C(ethtool -k) shows (C(rx-gro),
        C(tx-tcp-segmentation), ...) or ethtool's short names for groups of them (C(gro), C(gso), C(tso), C(tx), C(rx),
        C(sg), C(lro), C(rxhash), C(ntuple), C(rxvlan), C(txvlan)).
      - A name the link does not have, or an offload its driver keeps fixed, fails naming it; a group turns what the
        driver lets change. Only the offloads given are compared and changed.
      - M(seed.nodenet.network_info) shows every link's offloads, queues and rings as its C(nics) resource.
    type: dict
seealso:
  - module: seed.nodenet.address
  - module: seed.nodenet.network_info
'''

EXAMPLES = r'''
- name: A veth pair, one end with a fixed MAC and MTU
  seed.nodenet.link:
    name: veth-a
    kind: veth
    peer: veth-b
    mtu: 9000
    hardware_addr: "02:00:00:00:00:0a"
    up: true

- name: A dummy link for a node-local service address
  seed.nodenet.link:
    name: svc0
    kind: dummy
    up: true

- name: A macvlan on the uplink
  seed.nodenet.link:
    name: mv0
    kind: macvlan
    parent: eth0
    macvlan_mode: bridge
    up: true

- name: A unicast VXLAN tunnel to another node
  seed.nodenet.link:
    name: vxlan42
    kind: vxlan
    vni: 42
    local: 192.0.2.10
    remote: 192.0.2.20
    port: 4789
    learning: false
    mtu: 1450
    up: true

- name: Raise the MTU of an existing physical NIC (nothing else about it is touched)
  seed.nodenet.link:
    name: eth1
    mtu: 9000

- name: RSS on all eight queues, bigger rings, no LRO (for a router)
  seed.nodenet.link:
    name: eth1
    channels: {combined: 8}
    rings: {rx: 4096, tx: 4096}
    features: {lro: false, rx-gro: true}

- name: Work inside a lab namespace
  seed.nodenet.link:
    name: lab0
    kind: dummy
    netns: lab-node1

- name: Clear a link's alias
  seed.nodenet.link:
    name: eth1
    alias: ""

- name: Remove a link
  seed.nodenet.link:
    name: vxlan42
    state: absent
'''

RETURN = r'''
link:
  description:
    - The link's status (LinkStatus) after the run; in check mode, as it is now. Null when it does not exist.
  returned: always
  type: dict
  sample:
    name: veth-a
    index: 7
    kind: veth
    type: ether
    flags: [UP, BROADCAST, MULTICAST]
    up: true
    mtu: 9000
    min_mtu: 68
    max_mtu: 65535
    operational_state: lowerlayerdown
    hardware_addr: "02:00:00:00:00:0a"
    broadcast_addr: "ff:ff:ff:ff:ff:ff"
    txqueuelen: 1000
    alias: null
    master: null
    peer: veth-b
operations:
  description: The planned operations, in the order they are (or in check mode would be) applied.
  returned: always
  type: list
  elements: str
  sample: ["create link veth-a"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import link
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import run_single


def main():
    module = AnsibleModule(argument_spec=argument_spec(link.OPTIONS), supports_check_mode=True, **link.RULES)
    run_single(module, link.KIND)


if __name__ == '__main__':
    main()
