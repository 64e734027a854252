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
    description:
      - Link name (1-15 bytes, no whitespace, C(/) or C(:)). Required unless I(selector) is given.
      - With I(selector), the name the selected NIC gets (it is renamed when its name differs), so the rest of the
        state can refer to a stable name.
    type: str
  selector:
    description:
      - Choose an existing NIC by what it is instead of by its name (Talos's C(deviceSelector)). Every qualifier given
        must match; each is a shell-style pattern (C(*), C(?), C([...])); MAC addresses match in any case.
      - Exactly one link must match. None or several fail before anything is touched, naming the selector and what the
        links have. Two entries may not select the same NIC. Not with I(kind) or I(state=absent).
      - The facts it matches are in every C(links) record of M(seed.nodenet.network_info). A veth reports
        I(driver=veth) and has no I(permanent_addr), I(bus_path) or I(kernel_driver).
    type: dict
    version_added: 0.1.0
    suboptions:
      hardware_addr:
        description: The link's current MAC address.
        type: str
      permanent_addr:
        description: The burnt-in MAC address (IFLA_PERM_ADDRESS), which stays when the current one is changed.
        type: str
      driver:
        description: The driver name the device reports to ethtool (C(ethtool -i)), for example C(igb), C(virtio_net).
        type: str
      bus_path:
        description: The device's bus address (ethtool's bus-info, else the parent device), for example C(0000:06:00.0).
        type: str
      kernel_driver:
        description: The kernel driver bound to the device's parent (C(/sys/bus/<bus>/devices/<dev>/driver)).
        type: str
  dhcp4:
    description:
      - Run a DHCPv4 client on the link (Talos's DHCPv4 operator) - dhcpcd (Debian package C(dhcpcd-base)), one daemon
        per link, started in the link's network namespace with a private mount namespace (its pid file, control socket
        and leases are kept under C(/run/nodenet/dhcp/<netns id>/<link>/)). It outlives the task and renews the lease
        by itself; a run that finds it gone starts it again.
      - C(false) stops the client, which removes the address and routes it configured. Unset leaves it alone.
      - The lease's address, gateways and DNS servers are in M(seed.nodenet.network_info)'s C(dhcp) resource; the addresses and
        routes the client added carry C(operator=dhcp4) there. A lease is not a change on the next run, and C(purge)
        leaves it alone. The task does not wait for a lease.
      - Not on a port of a bond or bridge (fails naming this option).
    type: bool
    version_added: 0.1.0
  dhcp6:
    description:
      - Run a DHCPv6 client on the link (the same dhcpcd daemon as I(dhcp4) when both are set). The default route comes from
        router advertisements, which the client follows. C(false) stops it.
    type: bool
    version_added: 0.1.0
  dhcp_options:
    description: Settings of the DHCP client; changing one restarts it.
    type: dict
    version_added: 0.1.0
    suboptions:
      route_metric:
        description: Metric of the routes the lease brings (Talos's default, 1024, when unset).
        type: int
      use_dns:
        description:
          - Let the client write the DNS servers and search domains of the lease into the node's resolv.conf (through
            Debian's dhcpcd hook, and resolvconf where installed). Default C(false) - the lease's DNS servers are only
            shown in M(seed.nodenet.network_info); don't use it together with a C(resolver) section.
          - Refused with I(netns) (a network namespace does not scope C(/etc/resolv.conf), so that would be the machine's
            own file); run the task inside the node instead (its own mount namespace, as the C(seed.nodenet.netns)
            connection does).
        type: bool
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
notes:
  - I(selector), I(dhcp4), I(dhcp6) and I(dhcp_options) are also options of each entry of M(seed.nodenet.network)'s
    C(links) section, where the rest of the node's state can refer to the selected NIC's stable I(name).
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

- name: The NIC at PCI 0000:06:00.0, whatever the kernel called it, becomes lan0
  seed.nodenet.link:
    selector: {bus_path: "0000:06:00.*", driver: igb}
    name: lan0
    mtu: 9000
    up: true

- name: DHCPv4 on eth0, its routes at metric 100
  seed.nodenet.link:
    name: eth0
    up: true
    dhcp4: true
    dhcp_options: {route_metric: 100}

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
