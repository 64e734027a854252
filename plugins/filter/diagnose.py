# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: diagnose_report
short_description: The troubleshooting checklist's report from every node's evidence
version_added: 0.1.0
description:
  - Takes the cluster description C(nodenet_cluster), the cluster's nodes (name, role, network, as the role
    C(seed.nodenet.diagnose) builds them) and every node's evidence (its C(seed.nodenet.network_info) facts, the
    probe's output, the drift plan of C(seed.nodenet.network) in check mode) and returns the report of the role
    C(seed.nodenet.diagnose) - findings C({check, status, object, message, evidence}) per node and for the cluster, and
    a summary.
  - "Node checks: C(default-route), C(dns), C(nat), C(outbound), C(reach), C(mtu), C(api), C(drift). Cluster checks:
    C(pod-cidr), C(network-mtu), C(drift) (summed), C(cni-pods), C(network-policies), C(loadbalancer)."
  - The same file provides C(diagnose_targets) (what one node probes), C(diagnose_table) (the console lines) and
    C(diagnose_failed) (every failed check as C(where check - message)).
positional: nodes, evidence, k8s, api_ports
options:
  _input:
    description: The cluster description, C(nodenet_cluster).
    type: dict
    required: true
  nodes:
    description: The nodes, a list of mappings with C(name), C(role) (controlplane or worker) and C(network).
    type: list
    elements: dict
    required: true
  evidence:
    description: "C({host: {facts, probe, drift}}) as the role gathers it."
    type: dict
    required: true
  k8s:
    description: C(None) when no kubeconfig was given, else C({cni, metallb}) with the findings of those roles' checks.
    type: dict
  api_ports:
    description: The management API ports probed on control-plane nodes.
    type: list
    elements: int
author:
  - seed.nodenet developers (@seed-nodenet)
'''

EXAMPLES = r'''
- name: The report of the evidence the role gathered
  ansible.builtin.set_fact:
    report: "{{ nodenet_cluster | seed.nodenet.diagnose_report(nodes, evidence, none, [6443]) }}"
'''

RETURN = r'''
_value:
  description: "The report: C(nodes) ({host: [findings]}), C(cluster) ([findings]) and C(summary) (status, counts)."
  type: dict
'''

from ansible_collections.seed.nodenet.plugins.plugin_utils import diagnose as d
from ansible_collections.seed.nodenet.plugins.plugin_utils.filterargs import nodes as _nodes, plain as _plain


def diagnose_targets(cluster, nodes, name, facts=None, api_ports=None, dns_name=None):
    return d.targets(name, _nodes(nodes), _plain(cluster), _plain(facts) or {}, _plain(api_ports), dns_name or None)


def diagnose_report(cluster, nodes, evidence, k8s=None, api_ports=None):
    return d.evaluate(_plain(cluster), _nodes(nodes), _plain(evidence) or {}, _plain(k8s), _plain(api_ports))


def diagnose_table(report):
    return d.table(_plain(report))


def diagnose_failed(report):
    return ['%s %s - %s' % f for f in d.failed(_plain(report))]


class FilterModule(object):
    def filters(self):
        return {
            'diagnose_targets': diagnose_targets,
            'diagnose_report': diagnose_report,
            'diagnose_table': diagnose_table,
            'diagnose_failed': diagnose_failed,
        }
