# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: cluster_preflight
short_description: Every problem of a cluster description, checked on the controller before any node is touched
version_added: 0.1.0
description:
  - Takes the cluster's nodes (name, role, the node's C(nodenet_network), optional C(hostname) and C(mesh_address))
    and the cluster description C(nodenet_cluster) (see the role C(seed.nodenet.cluster_network)) and returns a list
    of problems, each C([check] what and where); an empty list means the cluster may be applied.
  - "Checks: C(cidr-invalid), C(cidr-overlap) (node networks, pod and service CIDRs, IPv4 and IPv6), C(mesh-overlap),
    C(mtu-mismatch) (a link's MTU against its network's, and links of one network against each other),
    C(duplicate-address), C(duplicate-hostname), C(missing-address) (a node without an address of each family on
    every network its role needs), C(mesh-address), C(vip) (outside the control-plane network, or a node's address),
    C(role), C(networks), C(rollout)."
  - The same module file provides C(cluster_config) (the description with every default filled in, the one place
    other roles take the defaults from), C(cluster_report), C(cluster_batches), C(cluster_node_network),
    C(cluster_node_mesh), C(cluster_gate_targets) and C(cluster_firewall_vars).
positional: cluster
options:
  _input:
    description: The nodes, a list of mappings with C(name), C(role) (controlplane or worker) and C(network).
    type: list
    elements: dict
    required: true
  cluster:
    description: The cluster description, C(nodenet_cluster).
    type: dict
    required: true
author:
  - seed.nodenet developers (@seed-nodenet)
'''

EXAMPLES = r'''
- name: Stop with one report if the cluster description is inconsistent
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | seed.nodenet.cluster_report }}"
  vars:
    problems: "{{ nodes | seed.nodenet.cluster_preflight(nodenet_cluster) }}"
'''

RETURN = r'''
_value:
  description: The problems found, each C([check] message); empty when there are none.
  type: list
  elements: str
'''

from ansible_collections.seed.nodenet.plugins.plugin_utils import cluster as c
from ansible_collections.seed.nodenet.plugins.plugin_utils.filterargs import nodes as _nodes, plain as _plain


def cluster_config(cluster):
    return c.config(_plain(cluster))


def cluster_preflight(nodes, cluster):
    return c.preflight(_nodes(nodes), _plain(cluster))


def cluster_report(problems):
    return c.report(list(problems))


def cluster_batches(nodes, cluster):
    return c.batches(_nodes(nodes), _plain(cluster))


def cluster_node_network(nodes, name, cluster):
    return c.node_network(name, _nodes(nodes), _plain(cluster))


def cluster_node_mesh(nodes, name, cluster, public_keys):
    return c.node_mesh(name, _nodes(nodes), _plain(cluster), _plain(public_keys) or {})


def cluster_gate_targets(nodes, name, cluster, names):
    return c.gate_targets(name, _nodes(nodes), _plain(cluster), list(names))


def cluster_firewall_vars(nodes, name, cluster):
    return c.firewall_vars(name, _nodes(nodes), _plain(cluster))


class FilterModule(object):
    def filters(self):
        return {
            'cluster_config': cluster_config,
            'cluster_preflight': cluster_preflight,
            'cluster_report': cluster_report,
            'cluster_batches': cluster_batches,
            'cluster_node_network': cluster_node_network,
            'cluster_node_mesh': cluster_node_mesh,
            'cluster_gate_targets': cluster_gate_targets,
            'cluster_firewall_vars': cluster_firewall_vars,
        }
