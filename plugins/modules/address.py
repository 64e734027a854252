#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: address
short_description: Add or remove an IPv4 or IPv6 address on a link
version_added: 0.1.0
description:
  - Declares one address in CIDR form on one link, like a Talos C(AddressConfig).
  - The address is validated before anything is touched (a prefix length is required, host bits are allowed
    because this is an interface address, multicast and unspecified addresses are refused) and the link must exist.
  - Other addresses on the link are left alone. To make a link carry exactly a list of addresses use
    the C(network) module with C(purge).
  - Removing or relabelling a primary IPv4 address first sets C(net.ipv4.conf.<link>.promote_secondaries=1) for
    that link, so the kernel promotes a secondary address of the same subnet instead of deleting them all.
    The setting stays on afterwards.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.common
options:
  address:
    description: The address with its prefix length, for example C(192.0.2.10/24) or C(2001:db8::10/64).
    type: str
    required: true
  link:
    description: Name of the link that carries the address. It must exist.
    type: str
    required: true
  state:
    description: C(present) adds the address; C(absent) removes it if it is there.
    type: str
    choices: [present, absent]
    default: present
  label:
    description:
      - IPv4 only. The address label; the link name or C(<link>:<suffix>), at most 15 bytes.
      - If an existing address has another label it is replaced (removed and added again).
    type: str
seealso:
  - module: seed.nodenet.link
  - module: seed.nodenet.route
'''

EXAMPLES = r'''
- name: Node address on the uplink
  seed.nodenet.address:
    address: 192.0.2.10/24
    link: eth0

- name: IPv6 address
  seed.nodenet.address:
    address: 2001:db8:10::10/64
    link: eth0

- name: A labelled secondary address
  seed.nodenet.address:
    address: 192.0.2.11/24
    link: eth0
    label: "eth0:svc"

- name: Remove an address
  seed.nodenet.address:
    address: 192.0.2.99/24
    link: eth0
    state: absent
'''

RETURN = r'''
address:
  description: The address's status (AddressStatus) after the run; in check mode, as it is now. Null when absent.
  returned: always
  type: dict
  sample:
    address: 192.0.2.10/24
    link: eth0
    link_index: 2
    family: inet4
    scope: global
    flags: [permanent]
    label: eth0
    broadcast: null
operations:
  description: The planned operations, in order.
  returned: always
  type: list
  elements: str
  sample: ["create address eth0 192.0.2.10/24"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import address
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import run_single


def main():
    module = AnsibleModule(argument_spec=argument_spec(address.OPTIONS), supports_check_mode=True)
    run_single(module, address.KIND)


if __name__ == '__main__':
    main()
