#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: vip
short_description: Assign or remove a virtual IP on a link and announce it to the neighbours
version_added: 0.1.0
description:
  - Declares one virtual IP (VIP), IPv4 or IPv6, on one link, like Talos's C(VIPConfig) for a single node.
  - The address is marked as a VIP in the kernel with the address protocol C(IFA_PROTO=118) (Linux 5.18 and later keep
    it with the address; C(ip -d addr) shows C(proto 118)), so M(seed.nodenet.network_info) (C(vips)) and anyone
    reading the kernel can tell it from the node's own addresses. The mark works for both families, unlike labels.
  - It is a host address (C(/32), C(/128)) unless a prefix length is given, added with C(noprefixroute) (the node's own
    address provides the subnet route) and, for IPv6, C(nodad) so it answers at once.
  - When it is assigned, the neighbours are told at once - I(announce_count) gratuitous ARP requests (IPv4, broadcast,
    sender and target address both the VIP) or unsolicited neighbour advertisements (IPv6, to C(ff02::1), Override
    flag set, with the link's MAC address), I(announce_interval) seconds apart. Nothing is sent when the VIP is
    already there (C(changed=false)) or the link is down.
  - An address that is already one of the node's ordinary addresses, or a VIP held on another link, is refused before
    anything is touched.
  - This module puts a VIP on this node; deciding which node holds it is the job of the role C(seed.nodenet.vip)
    (keepalived/VRRP, kube-vip or a cloud floating IP).
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.common
options:
  address:
    description: The VIP, for example C(192.0.2.100) or C(2001:db8::100); a prefix length (C(192.0.2.100/24)) is optional.
    type: str
    required: true
  link:
    description: Name of the link that carries the VIP. It must exist.
    type: str
    required: true
  state:
    description: C(present) assigns and announces the VIP; C(absent) removes it (only if it is marked as a VIP).
    type: str
    choices: [present, absent]
    default: present
  announce_count:
    description: How many gratuitous ARPs or unsolicited neighbour advertisements to send when the VIP is assigned (0-100; 0 sends none).
    type: int
    default: 3
  announce_interval:
    description: Seconds between two announcements (0-10, fractions allowed).
    type: float
    default: 0.5
seealso:
  - module: seed.nodenet.address
  - module: seed.nodenet.network_info
'''

EXAMPLES = r'''
- name: The control-plane VIP on this node
  seed.nodenet.vip:
    address: 192.0.2.100
    link: eth0

- name: An IPv6 VIP, announced five times 200 ms apart
  seed.nodenet.vip:
    address: 2001:db8::100
    link: eth0
    announce_count: 5
    announce_interval: 0.2

- name: Give the VIP up
  seed.nodenet.vip:
    address: 192.0.2.100
    link: eth0
    state: absent
'''

RETURN = r'''
vip:
  description: The VIP's status after the run (in check mode, as it is now); null when it is not on the link.
  returned: always
  type: dict
  sample: {address: 192.0.2.100/32, link: eth0, link_index: 2, family: inet4, held: true, managed_by: nodenet, protocol: 118}
operations:
  description: The planned operations, in order.
  returned: always
  type: list
  elements: str
  sample: ["create vip eth0 192.0.2.100"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import vip
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import run_single


def main():
    module = AnsibleModule(argument_spec=argument_spec(vip.OPTIONS), supports_check_mode=True)
    run_single(module, vip.KIND)


if __name__ == '__main__':
    main()
