# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters behind the cni, metallb and firewall roles and the add-on diagnose checks.

The computation lives in module_utils/nodenet/addons (pure Python, unit-tested as data cases);
these wrappers turn its errors into AnsibleFilterError naming the field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: cni_plan
short_description: The CNI values derived from the cluster description and the nodes' network facts
version_added: 0.1.0
description:
  - Takes the cluster description C(nodenet_cluster) and the nodes' C(seed.nodenet.network_info) facts (see
    C(node_facts)) and returns what the role C(seed.nodenet.cni) installs; the CNI, its mode, pod CIDRs (IPv4, IPv6,
    dual-stack), the pod MTU (the smallest MTU on the pod path minus the encapsulation of the mode), the chart or
    manifests at the versions pinned in C(plugins/plugin_utils/addons/versions.py) and their values.
  - The same file provides the other filters of the roles C(seed.nodenet.cni), C(seed.nodenet.metallb) and
    C(seed.nodenet.firewall) (C(node_facts) (network_info facts of the named hosts), C(metallb_plan) (MetalLB objects,
    pools checked against node, pod, service, mesh and VIP addresses), C(addon_ports) (the firewall ports the chosen
    add-ons need on a node of a role), C(addon_files) (what render_only writes, with kustomizations),
    C(addon_method) (helm or manifests), C(addon_patch), C(strict_arp) (kube-proxy's strictARP patch), and the
    diagnose checks C(check_pods), C(check_pod_cidrs), C(check_mtu) and C(check_loadbalancers)).
  - A bad description fails naming the field.
positional: nodes
options:
  _input:
    description: The cluster description, C(nodenet_cluster).
    type: dict
    required: true
  nodes:
    description: The nodes' network facts, a mapping of host to its links, addresses and routes, as C(node_facts) returns it.
    type: dict
author:
  - seed.nodenet developers (@seed-nodenet)
'''

EXAMPLES = r'''
- name: Show the CNI values the role would install
  ansible.builtin.debug:
    msg: "{{ nodenet_cluster | seed.nodenet.cni_plan(hostvars | seed.nodenet.node_facts(groups['all'])) }}"
'''

RETURN = r'''
_value:
  description: The CNI's plan (plugin, mode, pod CIDRs, MTU and how it came about, components with their values).
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError
from ansible_collections.seed.nodenet.plugins.plugin_utils.addons import (
    checks, cni, metallb, ports, render)


def _wrap(fn):
    def inner(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (NodenetError, ValueError) as e:
            raise AnsibleFilterError(str(e))
    inner.__name__ = fn.__name__
    inner.__doc__ = fn.__doc__
    return inner


def node_facts(hostvars, hosts):
    """{host: its seed.nodenet.network_info facts} for the hosts that have them.

    Read from ansible_facts.nodenet, or the variable `nodenet` (facts injected as variables)."""
    out = {}
    for h in hosts or []:
        hv = hostvars.get(h) or {}
        facts = (hv.get('ansible_facts') or {}).get('nodenet') or hv.get('nodenet')
        if facts:
            out[h] = {'links': facts.get('links') or [], 'addresses': facts.get('addresses') or [],
                      'routes': facts.get('routes') or []}
    return out


def cni_plan(cluster, nodes=None, versions=None):
    return cni.plan(cluster, nodes, versions)


def metallb_plan(cluster, nodes=None, versions=None):
    return metallb.plan(cluster, nodes, versions)


def addon_ports(cluster, node_role='worker', plugin=None, features=None):
    return ports.derive(cluster, node_role, plugin, features)


def addon_files(components, method='auto'):
    return render.files(components, method)


def addon_method(component, method='auto', helm_available=False):
    return render.method_of(component, method, helm_available)


def addon_patch(docs, patches):
    return render.patch(docs, patches)


def strict_arp(configmap):
    return metallb.strict_arp(configmap)


def check_pods(pods, component):
    return checks.pods_ready(component, pods)


def check_pod_cidrs(cluster, nodes=None):
    return checks.pod_cidr_conflicts(cluster, nodes)


def check_mtu(cluster, nodes=None):
    return checks.mtu(cluster, nodes)


def check_loadbalancers(services, pods=None, pools=None, l2ads=None, bgpads=None):
    return checks.loadbalancers(services, pods, pools, l2ads, bgpads)


class FilterModule(object):
    def filters(self):
        fns = (node_facts, cni_plan, metallb_plan, addon_ports, addon_files, addon_method, addon_patch, strict_arp,
               check_pods, check_pod_cidrs, check_mtu, check_loadbalancers)
        return dict((f.__name__, _wrap(f)) for f in fns)
