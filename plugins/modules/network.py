#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: network
short_description: A node's whole network in one task - links, addresses, routes, rules and /etc files - with confirm-or-revert
version_added: 0.1.0
description:
  - Declares a node's network as one document, like a Talos machine config's network section. Every object is
    validated first, including the rules between objects, then one plan is made for everything, in dependency order
    (links before addresses before routes before rules; removals in reverse), applied with a journal, verified by
    re-reading the kernel, and rolled back completely if any step fails.
  - Each entry of a section takes the same options as the single-kind module (M(seed.nodenet.link),
    M(seed.nodenet.bond), M(seed.nodenet.vlan), M(seed.nodenet.bridge), M(seed.nodenet.wireguard), M(seed.nodenet.address),
    M(seed.nodenet.route),
    M(seed.nodenet.rule), M(seed.nodenet.resolver),
    M(seed.nodenet.hosts), M(seed.nodenet.hostname)); errors name the entry, for example C(routes[3].gateway).
  - "Checks across objects before anything is touched: links referred to (C(link), C(parent)) must be declared or
    present; an IP address can't be on two links; a route's gateway must be on the subnet of an address or a
    connected route (of the route's link, when it names one); a link on a parent (VLAN, macvlan, VXLAN) can't have an
    MTU larger than its parent allows; a bond's member can't be declared with an MTU other than the bond's."
  - This engine has the sections C(links), C(bonds), C(vlans), C(bridges), C(wireguard), C(addresses), C(routes),
    C(rules), C(resolver), C(hosts), C(hostname) and C(firewall). VIPs are not a section yet (there is no VIP module).
  - I(rollback_timeout) makes the change revert itself unless a later task confirms it (confirm-or-revert, like
    C(talosctl apply-config --mode=try)); I(persist) makes the node apply the same state again at every boot.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.common
options:
  links:
    description: Links; each entry takes the options of M(seed.nodenet.link) (C(name), C(kind), C(up), C(mtu), ...).
    type: list
    elements: dict
  bonds:
    description: Bonds; each entry takes the options of M(seed.nodenet.bond) (C(name), C(links), C(mode), C(miimon), ...).
    type: list
    elements: dict
  vlans:
    description: VLANs; each entry takes the options of M(seed.nodenet.vlan) (C(name), C(parent), C(vlan_id), C(protocol), ...).
    type: list
    elements: dict
  bridges:
    description: Bridges; each entry takes the options of M(seed.nodenet.bridge) (C(name), C(links), C(stp), C(vlan_filtering), ...).
    type: list
    elements: dict
  wireguard:
    description:
      - WireGuard links; each entry takes the options of M(seed.nodenet.wireguard). Keys given inline are never logged
        or returned; keep them in I(private_key_file) on the node.
      - Not with I(rollback_timeout) (undoing a WireGuard change needs the private key, which is never written to the
        journal) and, with I(persist=true), only with keys in files (the state file would otherwise hold them).
    type: list
    elements: dict
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
  addresses:
    description: Addresses; each entry takes the options of M(seed.nodenet.address) (C(address), C(link), C(label), C(state)).
    type: list
    elements: dict
  vips:
    description:
      - Virtual IPs; each entry takes the options of M(seed.nodenet.vip) (C(address), C(link), C(state),
        C(announce_count), C(announce_interval)). Applied after the addresses; C(purge=[addresses]) never removes a VIP.
    type: list
    elements: dict
  routes:
    description: Routes; each entry takes the options of M(seed.nodenet.route) (C(destination), C(gateway), C(link), C(table), ...).
    type: list
    elements: dict
  rules:
    description: Policy routing rules; each entry takes the options of M(seed.nodenet.rule).
    type: list
    elements: dict
  resolver:
    description: The resolver configuration, as M(seed.nodenet.resolver) takes it.
    type: dict
    suboptions:
      nameservers:
        description: Name server IP addresses, in order.
        type: list
        elements: str
      search_domains:
        description: Search domains, in order.
        type: list
        elements: str
      options:
        description: resolv.conf options as a mapping (C(ndots), C(timeout), C(attempts); flags as C(true)).
        type: dict
      path:
        description: The resolv.conf to manage.
        type: path
        default: /etc/resolv.conf
      dropin_path:
        description: The systemd-resolved drop-in written instead when I(path) is resolved's stub.
        type: path
        default: /etc/systemd/resolved.conf.d/50-nodenet.conf
  hosts:
    description: Static host entries, as M(seed.nodenet.hosts) takes them.
    type: dict
    suboptions:
      entries:
        description: The host entries.
        type: list
        elements: dict
        default: []
        suboptions:
          ip:
            description: IPv4 or IPv6 address.
            type: str
            required: true
          aliases:
            description: Host names for the address, the canonical name first.
            type: list
            elements: str
            required: true
      exclusive:
        description: Manage the whole file (localhost lines and the node's own name are kept).
        type: bool
        default: false
      path:
        description: The hosts file to manage.
        type: path
        default: /etc/hosts
  hostname:
    description: The node's host name, as M(seed.nodenet.hostname) takes it.
    type: dict
    suboptions:
      hostname:
        description: A short name or an FQDN (RFC 1123).
        type: str
        required: true
      path:
        description: The hostname file to write.
        type: path
        default: /etc/hostname
  firewall:
    description:
      - The ingress firewall, with the options of M(seed.nodenet.firewall) (the C(inet nodenet) nftables table). It is
        checked with the rest (its batch through C(nft -c), the lock-out guard) before anything is touched, applied
        last as one atomic transaction, and put back as it was if anything after it fails.
      - Not with I(rollback_timeout) or I(persist) (the watchdog and the boot-time unit do not handle the firewall yet).
    type: dict
    suboptions:
      default_action:
        description:
          - C(accept) - traffic no rule matches is accepted; each rule drops its ports from sources outside its I(ingress).
          - C(block) - traffic no rule matches is dropped; each rule accepts its ports from the sources in its I(ingress).
        type: str
        choices: [accept, block]
        default: accept
      rules:
        description:
          - The ordered ingress rules. Each rule becomes one nftables rule per address family it applies to, in this order.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description:
              - Unique name (1-63 letters, digits, C(_), C(.), C(-)). Stored as the nftables rule comment, and the key
                C(network_info) reports the rule under.
            type: str
            required: true
          port_selector:
            description: Which traffic the rule is about.
            type: dict
            required: true
            suboptions:
              protocol:
                description:
                  - Layer 4 protocol. C(icmp) applies to IPv4 sources only, C(icmpv6) to IPv6 sources only.
                  - C(vrrp) is IP protocol 112 (keepalived's VRRP), C(ipencap) IP protocol 4 (IP-in-IP, Calico's IPIP mode); neither takes ports.
                type: str
                required: true
                choices: [tcp, udp, icmp, icmpv6, vrrp, ipencap]
              ports:
                description:
                  - Destination ports, numbers 1-65535 or ranges like C("30000-32767"). Required for C(tcp) and C(udp),
                    not allowed for C(icmp) and C(icmpv6). Overlapping and adjacent ranges are merged.
                type: list
                elements: raw
          ingress:
            description:
              - The source networks the rule applies to. IPv4 and IPv6 networks can be mixed; a family with no network is
                not allowed in block mode and dropped for these ports in accept mode (as Talos).
              - An empty list allows no source at all.
            type: list
            elements: dict
            default: []
            suboptions:
              subnet:
                description: Source network in CIDR form (C(10.0.0.0/8), C(0.0.0.0/0), C(::/0)); a bare address means one host.
                type: str
                required: true
              except:
                description: Networks inside I(subnet) that are excluded from it (one CIDR, or a list).
                type: list
                elements: str
      state:
        description:
          - C(present) installs the policy. C(absent) removes the table C(inet nodenet) (and with it the whole policy).
        type: str
        choices: [present, absent]
        default: present
      allow_lockout:
        description:
          - The module refuses a policy that would drop a new SSH connection like the one Ansible is using - the client
            address and server port read from C(SSH_CONNECTION) or C(SSH_CLIENT) in the environment of the module or of its
            parent processes (so it works under C(become)). Set C(true) to apply such a policy anyway.
          - The check only applies when the policy is for the namespace the module runs in (no I(netns), or I(netns)
            naming that same namespace).
        type: bool
        default: false
  talos_config:
    description:
      - A Talos machine configuration to apply, as YAML text (one or more documents; reading text needs PyYAML on the
        node), one document, or a list of documents (C(lookup('file', 'node.yaml') | from_yaml_all | list)).
      - "Read: the v1alpha1 document's C(machine.network) (C(interfaces) with C(addresses), C(routes), C(bond),
        C(vlans), C(bridge), C(bridgePort), C(wireguard), C(vip), C(mtu), C(dummy), C(dhcp), C(deviceSelector);
        C(nameservers), C(searchDomains), C(extraHostEntries), C(hostname)) and C(machine.sysctls), and the documents
        C(LinkConfig), C(DummyLinkConfig), C(BondConfig), C(VLANConfig), C(BridgeConfig), C(WireguardConfig),
        C(Layer2VIPConfig), C(ResolverConfig), C(StaticHostConfig), C(HostnameConfig), C(RoutingRuleConfig),
        C(BlackholeRouteConfig), C(NetworkDefaultActionConfig), C(NetworkRuleConfig), C(EthernetConfig),
        C(DHCPv4Config), C(DHCPv6Config) and C(SysctlConfig). Field names and meaning are Talos's (a link document
        brings its link up unless C(up=false); a route without destination is the default route, without metric it
        gets 1024; a rule with neither C(src) nor C(dst) is made for IPv4 and IPv6)."
      - An unknown field is an error naming it. What Talos can say but this collection can't do (KubeSpan, a
        C(deviceSelector) that matches no link, DNS over TLS, Wake-on-LAN, and - until the collection has them -
        C(dhcp), C(sysctls), C(features)/C(rings)/C(channels)) is not applied and is reported by name, as a warning
        and in C(talos_unmapped). The other sections of the machine config are not network settings and are not read.
      - The translated sections join the ones given directly (lists are appended; C(resolver), C(hosts),
        C(hostname) and C(firewall) can be given only once).
      - A WireGuard C(privateKey) here is masked in the task's output, but Ansible logs the task's arguments on the
        node before the module can mask it; keep keys in files (the C(wireguard) section's C(private_key_file)).
    type: raw
  purge:
    description:
      - Remove objects the state does not declare.
      - C(addresses) - addresses on the declared links (the kernel's own IPv6 link-local C(fe80::) ones are kept).
      - C(routes) - routes through the declared links that an administrator or this collection made (protocol
        C(static), C(boot) as C(ip route add) makes them, or C(unspec)), except those in the C(local) table.
      - C(daemon_routes) - routes through the declared links that other programs made and manage (routing daemons
        such as FRR/zebra, BIRD, C(bgp), C(ospf); DHCP clients; keepalived; any other protocol). C(routes) leaves
        them alone, as Talos manages only its own routes; list both to remove every route the state does not declare.
        The kernel's own routes (protocols C(kernel) and C(ra)) are never purged.
      - C(rules) - rules that look up a table the declared routes or rules use (other than C(main), C(local) and
        C(default)) or that name a declared link; the kernel's default rules and other software's rules are kept.
    type: list
    elements: str
    choices: [addresses, daemon_routes, routes, rules]
    default: []
  rollback_timeout:
    description:
      - Confirm-or-revert. After applying, save what undoing the change needs (the journal of operations and the files'
        previous contents) under C(/run/nodenet/) and start a watchdog on the node that undoes the change after this many
        seconds (1-86400) unless a later task confirms it with M(seed.nodenet.confirm) or I(confirm=true).
      - The watchdog outlives the Ansible connection - a transient systemd unit (C(systemd-run)) where systemd is PID 1,
        a detached (double-forked, C(setsid)) process otherwise. The confirming task can only run if the controller
        still reaches the node, so a change that cuts the controller off reverts by itself.
      - While a change waits for confirmation, other runs of this module are refused (check mode only warns).
      - Nothing is armed when nothing changed.
    type: int
  confirm:
    description:
      - Confirm the change a previous task applied with I(rollback_timeout); its watchdog exits without reverting.
        Nothing else may be set with it. Fails if the watchdog has already reverted the change.
    type: bool
    default: false
  persist:
    description:
      - C(true) saves the declared state on the node (I(persist_path), mode 0600), a copy of the engine with an entry
        script (I(persist_engine_dir)) and a boot-time systemd unit (I(persist_unit), enabled through a
        C(multi-user.target.wants) link) that applies the same state again at boot, before C(network-pre.target).
      - C(false) removes the state file, the unit, its link and the engine copy. Unset leaves persistence as it is.
      - With I(rollback_timeout), a revert also restores the previous state file and unit.
      - The state file holds what you declared; keep secrets out of it (WireGuard private keys, when the engine has
        that kind, are meant to stay in their own key files).
    type: bool
  persist_path:
    description: The persisted state file.
    type: path
    default: /etc/nodenet/state.json
  persist_unit:
    description: The systemd unit file that applies the persisted state at boot.
    type: path
    default: /etc/systemd/system/nodenet.service
  persist_engine_dir:
    description: Where the engine copy and its entry script C(nodenet-apply) are installed.
    type: path
    default: /usr/local/lib/seed-nodenet
attributes:
  diff_mode:
    support: full
    description: One before/after per object that changes, grouped by section, only the fields that change; file diffs.
notes:
  - The whole node is validated before anything is touched. A failure part way (the kernel refusing an object, a file
    that can't be written, a watchdog that won't start) rolls back every operation and file already applied.
  - "Recommended use of I(rollback_timeout) when the change may move the address Ansible connects to: run it with
    C(async) and C(poll: 0), point C(ansible_host) at the new address, C(wait_for_connection), then confirm. See the examples."
seealso:
  - module: seed.nodenet.confirm
  - module: seed.nodenet.network_info
'''

EXAMPLES = r'''
- name: The whole node in one task
  seed.nodenet.network:
    links:
      - {name: eth0, mtu: 9000, up: true}
      - {name: vxlan10, kind: vxlan, vni: 10, local: 192.0.2.10, remote: 192.0.2.20, mtu: 8950, up: true}
    addresses:
      - {address: 192.0.2.10/24, link: eth0}
      - {address: "2001:db8::10/64", link: eth0}
      - {address: 10.10.0.1/24, link: vxlan10}
    routes:
      - {destination: default, gateway: 192.0.2.1}
      - {destination: 10.20.0.0/16, gateway: 10.10.0.2, table: 100}
    rules:
      - {priority: 1000, src: 10.10.0.0/24, table: 100}
    resolver: {nameservers: [192.0.2.53], search_domains: [example.com]}
    hosts: {entries: [{ip: 192.0.2.10, aliases: [node1.example.com, node1]}]}
    hostname: {hostname: node1.example.com}
    purge: [addresses, routes]

- name: Addresses and the ingress firewall together - the firewall is checked with the rest and applied last
  seed.nodenet.network:
    links: [{name: eth0, up: true}]
    addresses: [{address: 192.0.2.10/24, link: eth0}]
    firewall:
      default_action: block
      rules:
        - name: kubelet
          port_selector: {protocol: tcp, ports: [10250]}
          ingress: [{subnet: 192.0.2.0/24}]
        - name: nodeports
          port_selector: {protocol: tcp, ports: ["30000-32767"]}
          ingress: [{subnet: 0.0.0.0/0, except: [192.0.2.66/32]}]

- name: Two NICs, an LACP bond, VLANs 100 and 200 on it, a bridge on VLAN 100 - one plan, in dependency order
  seed.nodenet.network:
    links:
      - {name: eth1, up: true}
      - {name: eth2, up: true}
    bonds:
      - {name: bond0, links: [eth1, eth2], mode: 802.3ad, miimon: 100, lacp_rate: fast, mtu: 9000, up: true}
    vlans:
      - {name: bond0.100, parent: bond0, vlan_id: 100, mtu: 9000, up: true}
      - {name: bond0.200, parent: bond0, vlan_id: 200, mtu: 9000, up: true}
    bridges:
      - {name: br100, links: [bond0.100], stp: {enabled: false}, up: true}
    addresses:
      - {address: 192.0.2.10/24, link: br100}
      - {address: 198.51.100.10/24, link: bond0.200}
    routes:
      - {destination: default, gateway: 192.0.2.1}

- name: Apply a Talos machine config's network (a v1alpha1 config or multi-document network configs)
  seed.nodenet.network:
    talos_config: "{{ lookup('ansible.builtin.file', 'talos/node1.yaml') }}"
  register: adopted

- name: Say what Talos could express but was not applied
  ansible.builtin.debug:
    var: adopted.talos_unmapped

- name: Move the management address; reverts by itself after 60 s unless confirmed
  seed.nodenet.network:
    links: [{name: eth0, up: true}]
    addresses: [{address: 192.0.2.50/24, link: eth0}]
    routes: [{destination: default, gateway: 192.0.2.1}]
    purge: [addresses]
    rollback_timeout: 60
  async: 120
  poll: 0

- name: Reach the node at its new address
  ansible.builtin.set_fact:
    ansible_host: 192.0.2.50

- name: Wait for it
  ansible.builtin.wait_for_connection:
    timeout: 45

- name: Keep the change
  seed.nodenet.confirm:

- name: Apply the same state at every boot
  seed.nodenet.network:
    links: [{name: eth0, mtu: 9000, up: true}]
    addresses: [{address: 192.0.2.10/24, link: eth0}]
    persist: true

- name: Stop applying it at boot (removes the unit, the state file and the engine copy)
  seed.nodenet.network:
    persist: false
'''

RETURN = r'''
operations:
  description: The planned operations in the order they are (or in check mode would be) applied, files and persistence included.
  returned: always
  type: list
  elements: str
  sample: ["create link vxlan10", "create address eth0 192.0.2.10/24", "delete address eth0 192.0.2.9/24 (purge)",
           "create route 0.0.0.0/0 table main metric 0", "write hosts /etc/hosts"]
rollback:
  description: The armed watchdog (null when I(rollback_timeout) is unset or nothing changed).
  returned: always
  type: dict
  sample: {armed: true, deadline: "2026-01-01T12:01:00Z", timeout: 60, watchdog: detached process, watchdog_pid: 4242,
           pending_file: /run/nodenet/pending-4-f0000098.json}
talos_unmapped:
  description: With I(talos_config), every Talos field that was not applied (C(field), its path in I(talos_config), and C(reason)).
  returned: when talos_config is given
  type: list
  elements: dict
  sample: [{field: "talos_config[0].machine.network.kubespan", reason: "KubeSpan ... has no equivalent here"}]
confirmed:
  description: With I(confirm), whether the change was confirmed.
  returned: when confirm is true
  type: bool
  sample: true
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.network import module_spec, run_module


def main():
    module = AnsibleModule(argument_spec=argument_spec(module_spec()), supports_check_mode=True)
    run_module(module)


if __name__ == '__main__':
    main()
