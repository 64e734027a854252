# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options of one wireguard entry are written twice: as the wireguard module's options (DOCUMENTATION) and as the
    # suboptions of the network module's `wireguard` section (NETWORK). ansible-test's yamllint reads these as literal
    # strings only; tests/unit/test_doc_fragments.py checks that the two copies say the same.
    DOCUMENTATION = r'''
options:
  name:
    description: Link name (1-15 bytes, no whitespace, C(/) or C(:)).
    type: str
    required: true
  state:
    description:
      - C(present) creates the link if it is missing and sets the options given.
      - C(absent) removes it (for C(userspace), which also stops its C(wireguard-go)). Only WireGuard links are removed.
    type: str
    choices: [present, absent]
    default: present
  backend:
    description:
      - C(kernel) uses the kernel's WireGuard (module C(wireguard), C(CONFIG_WIREGUARD)).
      - C(userspace) runs C(wireguard-go) and configures it through its UAPI socket, C(/var/run/wireguard/<name>.sock)
        (C(/run/nodenet/wireguard/<netns>/<name>.sock) with I(netns), where wireguard-go runs in a private mount
        namespace where that directory is its C(/var/run/wireguard)), so every namespace can have its own C(wg0).
      - C(auto) uses the kernel when it has WireGuard (loaded, built in or as a loadable module), userspace otherwise.
        An existing link keeps the backend it runs on; asking for the other one fails (remove the link first).
    type: str
    choices: [auto, kernel, userspace]
    default: auto
  private_key:
    description:
      - The link's private key, base64 of 32 bytes (as C(wg genkey) prints). Never logged or returned.
      - Exclusive with I(private_key_file).
    type: str
  private_key_file:
    description:
      - Absolute path of a file on the node holding the private key (as C(wg genkey) writes it).
      - With I(generate_key=true) a missing file is created with a new key, mode 0600; an existing file is never
        overwritten. In check mode nothing is written and C(public_key) is null until the key exists.
    type: path
  generate_key:
    description: Create I(private_key_file) with a new X25519 key when it does not exist.
    type: bool
    default: false
  listen_port:
    description: UDP port to listen on, 1-65535. Omit it to let WireGuard choose (and not manage it).
    type: int
  firewall_mark:
    description: Mark (fwmark) of the tunnel's outgoing packets, 0 to clear. Omit it to leave it as it is.
    type: int
  peers:
    description:
      - The complete list of peers. Peers not listed are removed; C([]) removes every peer.
      - A peer field not given takes WireGuard's default (no preshared key, no keepalive, no allowed IPs), except
        I(endpoint) - without one, the endpoint the peer roams from is kept.
    type: list
    elements: dict
    suboptions:
      public_key:
        description: The peer's public key, base64 of 32 bytes.
        type: str
        required: true
      preshared_key:
        description: Optional symmetric key mixed into the handshake, base64 of 32 bytes (C(wg genpsk)). Never logged or returned.
        type: str
      endpoint:
        description:
          - Where to reach the peer, C(host:port) or C([IPv6 address]:port). A host name is resolved on the node when the
            module runs.
        type: str
      persistent_keepalive_interval:
        description: Seconds between keepalive packets (useful behind NAT), 0-65535; 0 (the default) turns them off.
        type: int
      allowed_ips:
        description: Networks routed to this peer and accepted from it, in CIDR form (host bits must be zero).
        type: list
        elements: str
  up:
    description: Administrative state of the link.
    type: bool
  mtu:
    description: MTU in bytes, 68-65535 (WireGuard's default is 1420).
    type: int
'''

    NETWORK = r'''
options:
  wireguard:
    suboptions:
      name:
        description: Link name (1-15 bytes, no whitespace, C(/) or C(:)).
        type: str
        required: true
      state:
        description:
          - C(present) creates the link if it is missing and sets the options given.
          - C(absent) removes it (for C(userspace), which also stops its C(wireguard-go)). Only WireGuard links are removed.
        type: str
        choices: [present, absent]
        default: present
      backend:
        description:
          - C(kernel) uses the kernel's WireGuard (module C(wireguard), C(CONFIG_WIREGUARD)).
          - C(userspace) runs C(wireguard-go) and configures it through its UAPI socket, C(/var/run/wireguard/<name>.sock)
            (C(/run/nodenet/wireguard/<netns>/<name>.sock) with I(netns), where wireguard-go runs in a private mount
            namespace where that directory is its C(/var/run/wireguard)), so every namespace can have its own C(wg0).
          - C(auto) uses the kernel when it has WireGuard (loaded, built in or as a loadable module), userspace otherwise.
            An existing link keeps the backend it runs on; asking for the other one fails (remove the link first).
        type: str
        choices: [auto, kernel, userspace]
        default: auto
      private_key:
        description:
          - The link's private key, base64 of 32 bytes (as C(wg genkey) prints). Never logged or returned.
          - Exclusive with I(private_key_file).
        type: str
      private_key_file:
        description:
          - Absolute path of a file on the node holding the private key (as C(wg genkey) writes it).
          - With I(generate_key=true) a missing file is created with a new key, mode 0600; an existing file is never
            overwritten. In check mode nothing is written and C(public_key) is null until the key exists.
        type: path
      generate_key:
        description: Create I(private_key_file) with a new X25519 key when it does not exist.
        type: bool
        default: false
      listen_port:
        description: UDP port to listen on, 1-65535. Omit it to let WireGuard choose (and not manage it).
        type: int
      firewall_mark:
        description: Mark (fwmark) of the tunnel's outgoing packets, 0 to clear. Omit it to leave it as it is.
        type: int
      peers:
        description:
          - The complete list of peers. Peers not listed are removed; C([]) removes every peer.
          - A peer field not given takes WireGuard's default (no preshared key, no keepalive, no allowed IPs), except
            I(endpoint) - without one, the endpoint the peer roams from is kept.
        type: list
        elements: dict
        suboptions:
          public_key:
            description: The peer's public key, base64 of 32 bytes.
            type: str
            required: true
          preshared_key:
            description: Optional symmetric key mixed into the handshake, base64 of 32 bytes (C(wg genpsk)). Never logged or returned.
            type: str
          endpoint:
            description:
              - Where to reach the peer, C(host:port) or C([IPv6 address]:port). A host name is resolved on the node when the
                module runs.
            type: str
          persistent_keepalive_interval:
            description: Seconds between keepalive packets (useful behind NAT), 0-65535; 0 (the default) turns them off.
            type: int
          allowed_ips:
            description: Networks routed to this peer and accepted from it, in CIDR form (host bits must be zero).
            type: list
            elements: str
      up:
        description: Administrative state of the link.
        type: bool
      mtu:
        description: MTU in bytes, 68-65535 (WireGuard's default is 1420).
        type: int
'''
