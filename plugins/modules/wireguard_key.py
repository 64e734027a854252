#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: wireguard_key
short_description: A WireGuard private key kept on the node; only its public key is returned
version_added: 0.1.0
description:
  - Makes sure I(path) holds a WireGuard private key, generating one (mode 0600, never overwriting a file) when it
    is missing, and returns the public key. The private key never leaves the node.
  - Used by the role C(seed.nodenet.cluster_network) to learn every node's public key before any link is created, so
    a mesh can be rolled out in batches with every peer known; M(seed.nodenet.wireguard) then reads the same file.
  - Touches no network state.
author:
  - seed.nodenet developers (@seed-nodenet)
options:
  path:
    description: Absolute path of the key file (as C(wg genkey) writes it). A missing directory is created (mode 0700).
    type: path
    required: true
  generate:
    description: Create the key when the file is missing; with C(false) a missing file fails the task.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reports that a key would be generated; C(public_key) is then null.
  diff_mode:
    support: none
    description: A key is not shown.
seealso:
  - module: seed.nodenet.wireguard
'''

EXAMPLES = r'''
- name: This node's mesh key (generated here the first time)
  seed.nodenet.wireguard_key:
    path: /etc/nodenet/wg0.key
  register: wg_key

- name: Publish the public key for the other nodes
  ansible.builtin.set_fact:
    mesh_public_key: "{{ wg_key.public_key }}"
'''

RETURN = r'''
public_key:
  description: The public key of the key in I(path) (base64); null in check mode when the key is not there yet.
  returned: always
  type: str
  sample: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import wg
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError


def main():
    module = AnsibleModule(argument_spec=dict(path=dict(type='path', required=True), generate=dict(type='bool', default=True)),
                           supports_check_mode=True)
    path = module.params['path']
    try:
        if not os.path.isabs(path):
            module.fail_json(msg="'%s' is not an absolute path" % path, field='path')
        raw = wg.read_key_file(path, 'path')
        if raw is not None:
            module.exit_json(changed=False, public_key=wg.b64(wg.public_key(raw)))
        if not module.params['generate']:
            module.fail_json(msg="'%s' does not exist and generate is false" % path, field='path')
        if module.check_mode:
            module.exit_json(changed=True, public_key=None)
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            try:
                os.makedirs(directory, 0o700)
            except OSError as e:
                module.fail_json(msg="can't create the directory of '%s': %s" % (path, e.strerror), field='path')
        raw = wg.generate_private_key()
        wg.write_key_file(path, raw)
        module.exit_json(changed=True, public_key=wg.b64(wg.public_key(raw)))
    except NodenetError as e:
        module.fail_json(msg=str(e), field=e.field)


if __name__ == '__main__':
    main()
