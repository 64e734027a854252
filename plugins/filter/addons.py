# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters behind the cni, metallb and firewall roles and the add-on diagnose checks.

The computation lives in module_utils/nodenet/addons (pure Python, unit-tested as data cases);
these wrappers turn its errors into AnsibleFilterError naming the field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
