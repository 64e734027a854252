#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: wireguard
short_description: WireGuard links with exactly reconciled peers, on the kernel or in userspace, keys kept on the node
version_added: 0.1.0
description:
  - Declares one WireGuard link - its private key, listen port, firewall mark, peers, MTU and state - and makes the
    node match, like the other modules of the collection (validate, plan, apply, verify, roll back).
  - The peer list is reconciled exactly - peers are added, changed and removed to match it - and peers that already
    match are not touched, so their sessions are not reset. Omit I(peers) to leave the peers alone.
  - The private key can stay on the node - I(private_key_file) with I(generate_key=true) creates it there (mode 0600)
    when missing - and the module returns C(public_key), so a play can build a mesh from the facts of every node.
  - Private and preshared keys never appear in results, diffs, warnings or errors. Where a preshared key must be shown
    (diff, C(wireguard.peers)), a fingerprint like C(<redacted:1a2b3c4d>) stands for it; it is salted per run, so it
    only tells whether a key is set and whether a run changes it.
  - Two backends behind the same options. C(kernel) is the kernel's WireGuard (generic netlink, through pyroute2).
    C(userspace) speaks the cross-platform UAPI protocol on a socket per namespace and link name; the module starts
    C(wireguard-go) for the link (inside I(netns)) when it is missing, and deleting the link stops it.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.common
  - seed.nodenet.wireguard
requirements:
  - Python library cryptography on the target (X25519 public keys).
  - For I(backend=kernel), a kernel with WireGuard (5.6 or later, or the backport module).
  - For I(backend=userspace), C(wireguard-go) on the target (Debian and Ubuntu package C(wireguard-go)) and C(/dev/net/tun).
notes:
  - Addresses and routes on the link are set with M(seed.nodenet.address) and M(seed.nodenet.route); WireGuard routes
    nothing by itself.
  - A changed private key resets every session of the link; a changed peer resets nothing but that peer's settings.
  - A userspace link lives as long as its C(wireguard-go) process, which does not survive a reboot; run the play again
    (for example at boot) to bring it back.
  - With I(endpoint) set, an endpoint the peer roamed to is set back to it on the next run.
seealso:
  - module: seed.nodenet.address
  - module: seed.nodenet.network_info
'''

EXAMPLES = r'''
- name: A WireGuard link whose private key never leaves the node
  seed.nodenet.wireguard:
    name: wg0
    private_key_file: /etc/nodenet/wg0.key
    generate_key: true
    listen_port: 51820
    mtu: 1420
    up: true
    peers:
      - public_key: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
        endpoint: "192.0.2.20:51820"
        allowed_ips: [10.10.0.2/32]
        persistent_keepalive_interval: 25
      - public_key: "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="
        preshared_key: "{{ vault_wg0_psk }}"
        endpoint: "[2001:db8::30]:51820"
        allowed_ips: [10.10.0.3/32, "fd10::3/128"]
  register: wg0

- name: Its address (WireGuard itself routes nothing)
  seed.nodenet.address:
    address: 10.10.0.1/24
    link: wg0

- name: Publish this node's peer entry for the other nodes
  ansible.builtin.set_fact:
    wg_peer:
      public_key: "{{ wg0.public_key }}"
      endpoint: "{{ ansible_host }}:51820"
      allowed_ips: ["{{ wg_address.split('/')[0] }}/32"]

- name: A full mesh - every other node of the group is a peer
  seed.nodenet.wireguard:
    name: wg0
    private_key_file: /etc/nodenet/wg0.key
    listen_port: 51820
    up: true
    peers: "{{ groups['k8s_nodes'] | difference([inventory_hostname]) | map('extract', hostvars, 'wg_peer') | list }}"

- name: Userspace WireGuard (wireguard-go) where the kernel has none
  seed.nodenet.wireguard:
    name: wg1
    backend: userspace
    private_key: "{{ vault_wg1_private_key }}"
    listen_port: 51821
    up: true

- name: Remove every peer but keep the link
  seed.nodenet.wireguard:
    name: wg0
    peers: []

- name: Remove the link
  seed.nodenet.wireguard:
    name: wg1
    state: absent
'''

RETURN = r'''
public_key:
  description: The link's public key (base64), null when it has no private key yet (for example in check mode before the key file is generated).
  returned: always
  type: str
  sample: "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="
wireguard:
  description:
    - The link's WireGuard status after the run (in check mode, as it is now); null when it does not exist.
    - Preshared keys are shown as a per-run fingerprint, never as the key; private keys never appear.
  returned: always
  type: dict
  sample:
    name: wg0
    backend: kernel
    public_key: "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="
    listen_port: 51820
    firewall_mark: 0
    up: true
    mtu: 1420
    peers:
      - public_key: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
        preshared_key: "<redacted:1a2b3c4d>"
        endpoint: "192.0.2.20:51820"
        persistent_keepalive_interval: 25
        allowed_ips: [10.10.0.2/32]
        latest_handshake: 1764162000
        rx_bytes: 1234
        tx_bytes: 5678
operations:
  description: The planned operations, in the order they are (or in check mode would be) applied.
  returned: always
  type: list
  elements: str
  sample: ["create wireguard wg0"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import wireguard
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import run_single


def main():
    module = AnsibleModule(argument_spec=argument_spec(wireguard.OPTIONS), supports_check_mode=True, **wireguard.RULES)
    run_single(module, wireguard.KIND)


if __name__ == '__main__':
    main()
