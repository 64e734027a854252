#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: firewall
short_description: Talos-style ingress firewall on nftables, replaced atomically, with a lock-out guard
version_added: 0.1.0
description:
  - Declares the node's ingress policy like Talos's C(NetworkDefaultActionConfig) and C(NetworkRuleConfig) documents -
    a default action and an ordered list of rules, each a port selector and the source subnets it applies to.
  - The policy lives in one nftables table of its own, C(inet nodenet), with one chain C(ingress) on the C(input) hook
    at priority C(mangle + 10) (-140), as Talos's. Other tables (a CNI's, kube-proxy's, firewalld's) are never touched.
  - The whole table is replaced in one libnftables JSON transaction (C(nft -j -f -)), so there is never a moment with
    half a ruleset, and a batch the kernel rejects leaves the previous ruleset in place.
  - Check mode sends the same batch to the kernel with C(nft -c), which validates it without committing anything.
  - Idempotence compares the normalised ruleset read back with C(nft -j list table) against the one the options
    describe (sets, ranges and prefixes normalised), never text; counters are ignored.
  - With I(default_action=block), loopback, established and related traffic are always accepted, invalid packets
    dropped, ICMP timestamp and address mask requests dropped (CVE-1999-0524), IPv6 neighbour discovery accepted
    when it comes from the link itself (hop limit 255), and other ICMP and ICMPv6 accepted at up to 5 packets per
    second each, as Talos does. ICMP errors that belong to a connection (for example path MTU discovery's) are
    C(related) and accepted without limit.
  - With I(default_action=accept), only loopback is accepted up front; each rule drops its ports from every source
    outside its subnets. When a rule selects C(icmp) or C(icmpv6), neighbour discovery (hop limit 255) and ICMP
    errors of existing connections are accepted before it, so it can't break IPv6 or path MTU discovery.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.common
  - seed.nodenet.firewall
requirements:
  - The C(nft) command (package C(nftables)) and a kernel with nf_tables (C(CONFIG_NF_TABLES_INET)) on the node.
notes:
  - Only the C(input) hook is filtered. Traffic that is forwarded or DNATed to pods (kube-proxy NodePorts, hostPorts)
    does not pass the C(input) hook and is left to the CNI's network policies.
  - The rules are evaluated before chains at the default C(filter) priority. A packet this table accepts can still be
    dropped by another table; one it drops is dropped.
  - Input is validated before anything is read; an error names the field (C(result.field)), for example
    C(rules[2].port_selector.ports[1]).
seealso:
  - module: seed.nodenet.network_info
  - name: Talos ingress firewall
    description: The model this module follows.
    link: https://www.talos.dev/latest/talos-guides/network/ingress-firewall/
'''

EXAMPLES = r'''
- name: Control plane node - block by default, open what Kubernetes needs
  seed.nodenet.firewall:
    default_action: block
    rules:
      - name: ssh
        port_selector: {protocol: tcp, ports: [22]}
        ingress: [{subnet: 192.0.2.0/24}]
      - name: kubernetes-api
        port_selector: {protocol: tcp, ports: [6443]}
        ingress: [{subnet: 0.0.0.0/0}, {subnet: "::/0"}]
      - name: etcd
        port_selector: {protocol: tcp, ports: ["2379-2380"]}
        ingress: [{subnet: 192.0.2.10/32}, {subnet: 192.0.2.11/32}, {subnet: 192.0.2.12/32}]
      - name: kubelet
        port_selector: {protocol: tcp, ports: [10250]}
        ingress:
          - subnet: 192.0.2.0/24
            except: 192.0.2.1/32
      - name: flannel-vxlan
        port_selector: {protocol: udp, ports: [8472]}
        ingress: [{subnet: 192.0.2.0/24}]

- name: Accept by default, but keep the kubelet to the cluster network
  seed.nodenet.firewall:
    default_action: accept
    rules:
      - name: kubelet
        port_selector: {protocol: tcp, ports: [10250]}
        ingress: [{subnet: 192.0.2.0/24}, {subnet: "2001:db8::/64"}]

- name: Remove the policy
  seed.nodenet.firewall:
    state: absent

- name: Whole rule lists for Kubernetes nodes come from the role
  ansible.builtin.include_role:
    name: seed.nodenet.firewall
  vars:
    firewall_node_role: worker
    firewall_cni: cilium
    firewall_cluster_subnets: [192.0.2.0/24]
'''

RETURN = r'''
firewall:
  description:
    - The policy as installed (after the run; in check mode, as it is now), in the module's own terms, as
      C(network_info) reports it. I(ingress) is what the kernel holds, written back as subnets with exceptions.
  returned: always
  type: dict
  sample:
    table: inet nodenet
    present: true
    default_action: block
    rules:
      - name: kubelet
        port_selector: {protocol: tcp, ports: [10250]}
        ingress: [{subnet: 192.0.2.0/24, except: [192.0.2.1/32]}]
        packets: 12
        bytes: 720
    other_tables: [ip filter, inet cilium]
operations:
  description: What the run does (or in check mode would do) to the table.
  returned: always
  type: list
  elements: str
  sample: ["replace table inet nodenet"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import runner
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import firewall


def main():
    module = AnsibleModule(argument_spec=argument_spec(firewall.OPTIONS), supports_check_mode=True)
    runner.run_single(module, 'firewall')


if __name__ == '__main__':
    main()
