# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options of one firewall entry are written twice: as the firewall module's options (DOCUMENTATION) and as the
    # suboptions of the network module's `firewall` section (NETWORK). ansible-test's yamllint reads these as literal
    # strings only; tests/unit/test_doc_fragments.py checks that the two copies say the same.
    DOCUMENTATION = r'''
options:
  default_action:
    description:
      - C(accept) - traffic no rule matches is accepted; each rule drops its ports from sources outside its I(ingress).
      - C(block) - traffic no rule matches is dropped; each rule accepts its ports from the sources in its I(ingress).
    type: str
    choices: [accept, block]
    default: accept
  rules:
    description:
      - The ordered ingress rules. Each rule becomes one nftables rule per address family it applies to, in this order.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Unique name (1-63 letters, digits, C(_), C(.), C(-)). Stored as the nftables rule comment, and the key
            C(network_info) reports the rule under.
        type: str
        required: true
      port_selector:
        description: Which traffic the rule is about.
        type: dict
        required: true
        suboptions:
          protocol:
            description:
              - Layer 4 protocol. C(icmp) applies to IPv4 sources only, C(icmpv6) to IPv6 sources only.
              - C(vrrp) is IP protocol 112 (keepalived's VRRP), C(ipencap) IP protocol 4 (IP-in-IP, Calico's IPIP mode); neither takes ports.
            type: str
            required: true
            choices: [tcp, udp, icmp, icmpv6, vrrp, ipencap]
          ports:
            description:
              - Destination ports, numbers 1-65535 or ranges like C("30000-32767"). Required for C(tcp) and C(udp),
                not allowed for C(icmp) and C(icmpv6). Overlapping and adjacent ranges are merged.
            type: list
            elements: raw
      ingress:
        description:
          - The source networks the rule applies to. IPv4 and IPv6 networks can be mixed; a family with no network is
            not allowed in block mode and dropped for these ports in accept mode (as Talos).
          - An empty list allows no source at all.
        type: list
        elements: dict
        default: []
        suboptions:
          subnet:
            description: Source network in CIDR form (C(10.0.0.0/8), C(0.0.0.0/0), C(::/0)); a bare address means one host.
            type: str
            required: true
          except:
            description: Networks inside I(subnet) that are excluded from it (one CIDR, or a list).
            type: list
            elements: str
  state:
    description:
      - C(present) installs the policy. C(absent) removes the table C(inet nodenet) (and with it the whole policy).
    type: str
    choices: [present, absent]
    default: present
  allow_lockout:
    description:
      - The module refuses a policy that would drop a new SSH connection like the one Ansible is using - the client
        address and server port read from C(SSH_CONNECTION) or C(SSH_CLIENT) in the environment of the module or of its
        parent processes (so it works under C(become)). Set C(true) to apply such a policy anyway.
      - The check only applies when the policy is for the namespace the module runs in (no I(netns), or I(netns)
        naming that same namespace).
    type: bool
    default: false
'''

    NETWORK = r'''
options:
  firewall:
    suboptions:
      default_action:
        description:
          - C(accept) - traffic no rule matches is accepted; each rule drops its ports from sources outside its I(ingress).
          - C(block) - traffic no rule matches is dropped; each rule accepts its ports from the sources in its I(ingress).
        type: str
        choices: [accept, block]
        default: accept
      rules:
        description:
          - The ordered ingress rules. Each rule becomes one nftables rule per address family it applies to, in this order.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description:
              - Unique name (1-63 letters, digits, C(_), C(.), C(-)). Stored as the nftables rule comment, and the key
                C(network_info) reports the rule under.
            type: str
            required: true
          port_selector:
            description: Which traffic the rule is about.
            type: dict
            required: true
            suboptions:
              protocol:
                description:
                  - Layer 4 protocol. C(icmp) applies to IPv4 sources only, C(icmpv6) to IPv6 sources only.
                  - C(vrrp) is IP protocol 112 (keepalived's VRRP), C(ipencap) IP protocol 4 (IP-in-IP, Calico's IPIP mode); neither takes ports.
                type: str
                required: true
                choices: [tcp, udp, icmp, icmpv6, vrrp, ipencap]
              ports:
                description:
                  - Destination ports, numbers 1-65535 or ranges like C("30000-32767"). Required for C(tcp) and C(udp),
                    not allowed for C(icmp) and C(icmpv6). Overlapping and adjacent ranges are merged.
                type: list
                elements: raw
          ingress:
            description:
              - The source networks the rule applies to. IPv4 and IPv6 networks can be mixed; a family with no network is
                not allowed in block mode and dropped for these ports in accept mode (as Talos).
              - An empty list allows no source at all.
            type: list
            elements: dict
            default: []
            suboptions:
              subnet:
                description: Source network in CIDR form (C(10.0.0.0/8), C(0.0.0.0/0), C(::/0)); a bare address means one host.
                type: str
                required: true
              except:
                description: Networks inside I(subnet) that are excluded from it (one CIDR, or a list).
                type: list
                elements: str
      state:
        description:
          - C(present) installs the policy. C(absent) removes the table C(inet nodenet) (and with it the whole policy).
        type: str
        choices: [present, absent]
        default: present
      allow_lockout:
        description:
          - The module refuses a policy that would drop a new SSH connection like the one Ansible is using - the client
            address and server port read from C(SSH_CONNECTION) or C(SSH_CLIENT) in the environment of the module or of its
            parent processes (so it works under C(become)). Set C(true) to apply such a policy anyway.
          - The check only applies when the policy is for the namespace the module runs in (no I(netns), or I(netns)
            naming that same namespace).
        type: bool
        default: false
'''
