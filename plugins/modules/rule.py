#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: rule
short_description: Add or remove a policy routing rule
version_added: 0.1.0
description:
  - Declares one policy routing rule, like a Talos C(RoutingRuleConfig).
  - A rule is identified by everything it says (family, selectors, table, action and, when given, priority).
    An equal rule that exists already satisfies it; if I(priority) is not given, any priority does.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.common
options:
  priority:
    description: Rule priority (0-4294967295); lower is evaluated first. If unset the kernel picks one when creating.
    type: int
  src:
    description: Source prefix to match, in CIDR form.
    type: str
  dst:
    description: Destination prefix to match, in CIDR form.
    type: str
  table:
    description: Routing table to look up (required for C(unicast)); a number or C(main), C(local), C(default).
    type: raw
  action:
    description: C(unicast) looks up I(table); the others drop matching packets.
    type: str
    choices: [unicast, blackhole, unreachable, prohibit]
    default: unicast
  iif_name:
    description: Match packets arriving on this link.
    type: str
  oif_name:
    description: Match packets leaving on this link.
    type: str
  fw_mark:
    description: Match packets with this firewall mark.
    type: int
  fw_mask:
    description: Mask applied to the mark before comparing (needs I(fw_mark)).
    type: int
  family:
    description: C(inet4) or C(inet6). Taken from I(src)/I(dst) when they are given; otherwise C(inet4).
    type: str
    choices: [inet4, inet6]
  state:
    description: C(present) adds the rule if no equal rule exists; C(absent) removes every equal rule.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: seed.nodenet.route
'''

EXAMPLES = r'''
- name: Traffic from the storage network uses table 100
  seed.nodenet.rule:
    priority: 1000
    src: 10.20.0.0/16
    table: 100

- name: Marked packets (e.g. from a CNI) use table 200
  seed.nodenet.rule:
    priority: 1100
    fw_mark: 0x200
    fw_mask: 0xf00
    table: 200

- name: IPv6 rule by incoming link
  seed.nodenet.rule:
    priority: 1200
    family: inet6
    iif_name: eth1
    table: 300

- name: Remove a rule
  seed.nodenet.rule:
    priority: 1000
    src: 10.20.0.0/16
    table: 100
    state: absent
'''

RETURN = r'''
rule:
  description: The matching rule's status after the run; in check mode, as it is now. Null when absent.
  returned: always
  type: dict
  sample:
    family: inet4
    priority: 1000
    src: 10.20.0.0/16
    table: 100
    action: unicast
operations:
  description: The planned operations, in order.
  returned: always
  type: list
  elements: str
  sample: ["create rule inet4 priority 1000 from 10.20.0.0/16 lookup 100"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import rule
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import run_single


def main():
    module = AnsibleModule(argument_spec=argument_spec(rule.OPTIONS), supports_check_mode=True)
    run_single(module, rule.KIND)


if __name__ == '__main__':
    main()
