#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: bond
short_description: Create, change and remove bonds with Talos's full bond option set
version_added: 0.1.0
description:
  - Declares one bond, its ports (I(links), in order) and its options. Option names are those of Talos's bond
    configuration in snake_case; values are those of the Linux bonding driver.
  - Options that do not apply to the bond's mode are refused before anything is changed, with the modes they belong
    to. So are I(miimon) together with I(arp_interval), and delays that are not multiples of I(miimon).
  - Changing the mode (or I(fail_over_mac)), which the kernel allows only on a bond without ports, is done as one
    step of the plan - ports released, bond down, option set, ports re-added, bond up again - and rolled back as a
    whole if anything fails. Options the kernel changes only while the bond is down are set with the bond briefly down.
  - Ports are taken down before they join (the bonding driver brings them up). A port that NetworkManager or
    systemd-networkd manages is reported in a warning naming that manager.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.netdev
  - seed.nodenet.common
options:
  links:
    description:
      - The bond's ports, exactly, in the order they join (the first becomes the active port of an C(active-backup)
        bond unless I(primary) says otherwise). A port now in the bond and not listed is released.
      - Omit it to leave the ports alone.
    type: list
    elements: str
  mode:
    description: Bonding mode. The kernel default, C(balance-rr), applies when a bond is created without it.
    type: str
    choices: [balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb]
  miimon:
    description: MII link monitoring interval in ms; 0 disables it. Excludes I(arp_interval).
    type: int
  updelay:
    description: Delay in ms before enabling a port after its link comes up; a multiple of I(miimon).
    type: int
  downdelay:
    description: Delay in ms before disabling a port after its link goes down; a multiple of I(miimon).
    type: int
  use_carrier:
    description: Use the driver's carrier state (C(true)) rather than MII ioctls for link monitoring.
    type: bool
  xmit_hash_policy:
    description: Transmit hash policy. Modes C(balance-xor), C(802.3ad), C(balance-tlb).
    type: str
    choices: [layer2, layer3+4, layer2+3, encap2+3, encap3+4, vlan+srcmac]
  arp_interval:
    description: ARP monitoring interval in ms; 0 disables it. Modes C(balance-rr), C(active-backup), C(balance-xor),
      C(broadcast).
    type: int
  arp_ip_targets:
    description: IPv4 addresses ARP monitoring probes (up to 16). Same modes as I(arp_interval).
    type: list
    elements: str
  ns_ip6_targets:
    description: IPv6 addresses neighbour-solicitation monitoring probes (up to 16; Linux 6.0+). Same modes as
      I(arp_interval).
    type: list
    elements: str
  arp_validate:
    description: Which ARP replies/probes validate a port. Same modes as I(arp_interval).
    type: str
    choices: [none, active, backup, all, filter, filter_active, filter_backup]
  arp_all_targets:
    description: A port is up when C(any) or C(all) ARP targets answer. Same modes as I(arp_interval).
    type: str
    choices: [any, all]
  missed_max:
    description: ARP/NS probes a port may miss before it is down, 1-255 (Linux 5.16+). Same modes as I(arp_interval).
    type: int
  lacp_rate:
    description: Rate at which the partner sends LACPDUs. Mode C(802.3ad).
    type: str
    choices: [slow, fast]
  ad_select:
    description: Aggregator selection logic. Mode C(802.3ad).
    type: str
    choices: [stable, bandwidth, count]
  ad_actor_sys_prio:
    description: LACP system priority, 1-65535. Mode C(802.3ad).
    type: int
  ad_user_port_key:
    description: Upper 10 bits of the LACP port key, 0-1023. Mode C(802.3ad).
    type: int
  ad_lacp_active:
    description: Send LACPDUs actively (C(true)) or only in answer (C(false)); Linux 5.14+. Mode C(802.3ad).
    type: bool
  min_links:
    description: Ports that must be up for the bond to be up. Mode C(802.3ad).
    type: int
  fail_over_mac:
    description: MAC address policy on failover. Mode C(active-backup). Changed with the ports released.
    type: str
    choices: [none, active, follow]
  primary:
    description: The preferred active port (one of I(links)). Modes C(active-backup), C(balance-tlb), C(balance-alb).
    type: str
  primary_reselect:
    description: When the primary port becomes active again. Modes C(active-backup), C(balance-tlb), C(balance-alb).
    type: str
    choices: [always, better, failure]
  resend_igmp:
    description: IGMP membership reports sent after a failover, 0-255. Modes C(balance-rr), C(active-backup),
      C(balance-tlb), C(balance-alb).
    type: int
  lp_interval:
    description: Seconds between learning packets to the switch, 1 or more. Modes C(balance-tlb), C(balance-alb).
    type: int
  packets_per_slave:
    description: Packets sent through a port before moving to the next, 0-65535 (0 random). Mode C(balance-rr).
    type: int
  num_peer_notif:
    description: Gratuitous ARPs / unsolicited neighbour advertisements after a failover, 0-255.
    type: int
  peer_notif_delay:
    description: Delay in ms between peer notifications (Linux 5.3+); a multiple of I(miimon).
    type: int
  tlb_dynamic_lb:
    description: Rebalance flows dynamically. Mode C(balance-tlb).
    type: bool
  all_slaves_active:
    description: Deliver duplicate frames received on inactive ports (C(true)) or drop them.
    type: bool
seealso:
  - module: seed.nodenet.vlan
  - module: seed.nodenet.bridge
  - module: seed.nodenet.network_info
'''

EXAMPLES = r'''
- name: LACP bond of two NICs
  seed.nodenet.bond:
    name: bond0
    links: [eth1, eth2]
    mode: 802.3ad
    miimon: 100
    lacp_rate: fast
    xmit_hash_policy: layer3+4
    mtu: 9000
    up: true

- name: Active-backup with a preferred port and ARP monitoring
  seed.nodenet.bond:
    name: bond1
    links: [eth3, eth4]
    mode: active-backup
    primary: eth3
    arp_interval: 200
    arp_ip_targets: [192.0.2.1]
    arp_validate: all
    up: true

- name: Change the mode of a running bond (ports released and re-added inside one rolled-back step)
  seed.nodenet.bond:
    name: bond1
    mode: balance-xor
    xmit_hash_policy: layer2+3

- name: Remove the bond (its ports are released)
  seed.nodenet.bond:
    name: bond1
    state: absent
'''

RETURN = r'''
bond:
  description: The bond's status (LinkStatus with the bond's options) after the run; in check mode, as it is now.
    Null when absent.
  returned: always
  type: dict
  sample:
    name: bond0
    kind: bond
    up: true
    mtu: 9000
    mode: 802.3ad
    miimon: 100
    lacp_rate: fast
    xmit_hash_policy: layer3+4
    ports: [eth1, eth2]
    active_slave: null
operations:
  description: The planned operations, in the order they are (or in check mode would be) applied.
  returned: always
  type: list
  elements: str
  sample: ["create bond bond0"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import bond
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import run_single


def main():
    module = AnsibleModule(argument_spec=argument_spec(bond.OPTIONS), supports_check_mode=True)
    run_single(module, bond.KIND)


if __name__ == '__main__':
    main()
