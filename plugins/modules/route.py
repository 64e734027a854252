#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: route
short_description: Add, change or remove an IPv4 or IPv6 route
version_added: 0.1.0
description:
  - Declares one route, like a Talos C(RouteConfig). A route is identified by its I(destination), I(table) and
    I(metric) (as the kernel identifies it); its I(gateway), I(type) and, when given, I(link), I(source) and I(mtu)
    are compared and changed in place (a single netlink replace, so traffic never sees the route missing).
  - The family is taken from the destination, gateway or source; mixing families is an error.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.common
options:
  destination:
    description: Destination prefix in CIDR form (host bits must be zero) or C(default) (C(0.0.0.0/0), or C(::/0) with an IPv6 gateway).
    type: str
    required: true
  gateway:
    description: Next hop address. Without it the route is direct, on I(link).
    type: str
  source:
    description: Preferred source address for traffic using the route.
    type: str
  link:
    description: Outgoing link. Needed when there is no gateway.
    type: str
  metric:
    description: Route priority; lower wins. Defaults to the kernel's default, 0 for IPv4 and 1024 for IPv6.
    type: int
  mtu:
    description: Path MTU for the route.
    type: int
  table:
    description: Routing table, a number (1-4294967295) or C(main), C(local), C(default). Defaults to C(main).
    type: raw
  type:
    description:
      - C(unicast) forwards; C(blackhole) drops silently; C(unreachable) and C(prohibit) drop with an ICMP error.
    type: str
    choices: [unicast, blackhole, unreachable, prohibit]
    default: unicast
  nexthops:
    description:
      - A multipath (ECMP) route - at least two next hops the kernel spreads flows over, in proportion to their
        I(weight). Instead of I(gateway) and I(link).
      - The next hops are one route - compared as a set (their order does not matter), changed in one step, and
        rolled back whole. A next hop on a link that neither exists nor is declared fails naming it.
    type: list
    elements: dict
    suboptions:
      gateway:
        description: The next hop's address (the route's family).
        type: str
      link:
        description: The next hop's outgoing link (needed for an IPv6 link-local gateway, or without a gateway).
        type: str
      weight:
        description: Its share of the flows, 1-256.
        type: int
        default: 1
  state:
    description:
      - C(present) adds or changes the route. C(absent) removes the route with this destination, table and metric;
        if I(gateway) or I(link) is given, only when they match. It is removed whichever program made it (a routing
        daemon such as BIRD or FRR, a DHCP client); the request carries the route's own protocol, as the kernel needs.
      - C(present) on a route another program made takes it over (it becomes C(static)), when it differs.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: seed.nodenet.rule
'''

EXAMPLES = r'''
- name: Default route
  seed.nodenet.route:
    destination: default
    gateway: 192.0.2.1

- name: IPv6 default route with a metric
  seed.nodenet.route:
    destination: "::/0"
    gateway: 2001:db8::1
    metric: 100

- name: Pod network of another node, in a policy routing table, with a smaller MTU
  seed.nodenet.route:
    destination: 10.244.3.0/24
    gateway: 192.0.2.23
    table: 100
    mtu: 1450

- name: Never route the old service range
  seed.nodenet.route:
    destination: 10.96.0.0/12
    type: blackhole

- name: Two uplinks sharing the default route (ECMP), the second taking twice the flows
  seed.nodenet.route:
    destination: default
    nexthops:
      - {gateway: 192.0.2.1, link: eth0}
      - {gateway: 198.51.100.1, link: eth1, weight: 2}

- name: Remove a route
  seed.nodenet.route:
    destination: 10.244.3.0/24
    table: 100
    state: absent
'''

RETURN = r'''
route:
  description:
    - The route's status (RouteStatus) after the run; in check mode, as it is now. Null when absent.
    - A multipath route has C(nexthops) (C(gateway), C(link), C(weight)) and no C(gateway) or C(link) of its own.
  returned: always
  type: dict
  sample:
    destination: 0.0.0.0/0
    family: inet4
    gateway: 192.0.2.1
    source: null
    link: eth0
    metric: 0
    mtu: null
    table: 254
    type: unicast
    scope: global
    protocol: static
operations:
  description: The planned operations, in order.
  returned: always
  type: list
  elements: str
  sample: ["create route 0.0.0.0/0 table main metric 0"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import route
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import run_single


def main():
    module = AnsibleModule(argument_spec=argument_spec(route.OPTIONS), supports_check_mode=True)
    run_single(module, route.KIND)


if __name__ == '__main__':
    main()
