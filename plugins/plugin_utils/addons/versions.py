# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pinned versions of every Kubernetes add-on the cni and metallb roles install: the ONE place.

Each entry says where the add-on is published: a Helm chart (repo, chart name, chart version)
and/or plain manifests (URLs at the same version). The CRD schemas the tests validate rendered
objects against are taken from the same tags (tests/schemas/SOURCES.md). Bump a version here,
regenerate the schemas with tests/schemas/crd_to_jsonschema.py, and run the unit tier.
`pods` is what the roles wait for (every pod of a namespace of the add-on's own, or a label
selector in kube-system). Users can override an entry with the roles' `*_versions` variable (same keys).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

PINS = {
    'cilium': {
        'version': '1.18.0',
        'namespace': 'kube-system',
        'chart': {'repo': 'https://helm.cilium.io/', 'name': 'cilium', 'version': '1.18.0'},
        'manifests': [],     # Cilium publishes only its Helm chart (and the cilium CLI that wraps it)
        'pods': {'namespace': 'kube-system', 'label_selectors': ['k8s-app=cilium']},
    },
    'calico': {
        'version': 'v3.32.1',
        'namespace': 'tigera-operator',
        'chart': {'repo': 'https://docs.tigera.io/calico/charts', 'name': 'tigera-operator', 'version': 'v3.32.1'},
        'manifests': [
            'https://raw.githubusercontent.com/projectcalico/calico/v3.32.1/manifests/operator-crds.yaml',
            'https://raw.githubusercontent.com/projectcalico/calico/v3.32.1/manifests/tigera-operator.yaml',
        ],
        'pods': {'namespace': 'calico-system', 'label_selectors': []},
    },
    'flannel': {
        'version': 'v0.28.9',
        'namespace': 'kube-flannel',
        'chart': {'repo': 'https://flannel-io.github.io/flannel/', 'name': 'flannel', 'version': 'v0.28.9'},
        'manifests': ['https://github.com/flannel-io/flannel/releases/download/v0.28.9/kube-flannel.yml'],
        'pods': {'namespace': 'kube-flannel', 'label_selectors': []},
    },
    'multus': {
        'version': 'v4.3.0',
        'namespace': 'kube-system',
        'chart': None,       # no chart from the project
        'manifests': ['https://raw.githubusercontent.com/k8snetworkplumbingwg/multus-cni/v4.3.0/deployments/multus-daemonset-thick.yml'],
        'pods': {'namespace': 'kube-system', 'label_selectors': ['app=multus']},
    },
    'metallb': {
        'version': 'v0.16.1',
        'namespace': 'metallb-system',
        'chart': {'repo': 'https://metallb.github.io/metallb', 'name': 'metallb', 'version': '0.16.1'},
        'manifests': ['https://raw.githubusercontent.com/metallb/metallb/v0.16.1/config/manifests/metallb-native.yaml'],
        'pods': {'namespace': 'metallb-system', 'label_selectors': []},
    },
}


def pins(overrides=None):
    """PINS with a user's overrides merged per add-on (shallow, per key)."""
    out = {}
    for name, pin in PINS.items():
        merged = dict(pin)
        merged.update((overrides or {}).get(name) or {})
        out[name] = merged
    return out
