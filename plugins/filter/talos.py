# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: talos_network
short_description: A Talos machine config as seed.nodenet.network's arguments, on the controller
version_added: 0.1.0
description:
  - Translates a Talos machine configuration (the v1alpha1 C(machine.network) and C(machine.sysctls), and the
    multi-document network kinds) the way M(seed.nodenet.network)'s I(talos_config) does, but on the controller, so
    the role C(seed.nodenet.cluster_network) can check the whole cluster (CIDRs, MTUs, duplicates) before any node is
    touched. The role reads the host variable C(nodenet_talos_config) through it.
  - Returns C(network), the arguments (merged with I(network), the sections given directly), and C(unmapped), every
    Talos field that is not applied, by name, with the reason. A C(deviceSelector) can't be resolved here (the node's
    links are not known on the controller) - it is reported; use M(seed.nodenet.network)'s I(talos_config) on the node
    for configs that select links.
positional: network
options:
  _input:
    description: The Talos config - YAML text, one document, or a list of documents.
    type: raw
    required: true
  network:
    description: Sections given directly (as M(seed.nodenet.network) takes them); lists are appended to.
    type: dict
    default: {}
author:
  - seed.nodenet developers (@seed-nodenet)
'''

EXAMPLES = r'''
- name: What a node's Talos config becomes
  ansible.builtin.debug:
    msg: "{{ lookup('ansible.builtin.file', 'talos/node1.yaml') | seed.nodenet.talos_network }}"
'''

RETURN = r'''
_value:
  description: C(network) (the arguments) and C(unmapped) (a list of C(field) and C(reason)).
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos import adopt
from ansible_collections.seed.nodenet.plugins.plugin_utils.filterargs import plain


def _plain(value):
    return plain(value, strings=True)


def talos_network(config, network=None):
    try:
        spec, unmapped, dummy = adopt.adopt(_plain(config), _plain(network) or {}, controller=True)
    except ValidationError as e:
        raise AnsibleFilterError('talos_network: %s' % e)
    return {'network': spec, 'unmapped': unmapped}


class FilterModule(object):
    def filters(self):
        return {'talos_network': talos_network}
