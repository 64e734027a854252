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
    C(rules), C(vips), C(resolver), C(hosts), C(hostname) and C(firewall).
  - I(rollback_timeout) makes the change revert itself unless a later task confirms it (confirm-or-revert, like
    C(talosctl apply-config --mode=try)); I(persist) makes the node apply the same state again at every boot.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.common
  - seed.nodenet.wireguard.network
  - seed.nodenet.firewall.network
options:
  links:
    description:
      - Links; each entry takes the options of M(seed.nodenet.link) (C(name), C(kind), C(up), C(mtu), ...).
      - An entry may choose an existing NIC by I(selector) (C(hardware_addr), C(permanent_addr), C(driver), C(bus_path),
        C(kernel_driver); glob patterns) instead of its name; with I(name) as well the NIC is renamed to it, and the other
        sections refer to that name. Exactly one link must match.
      - C(dhcp4), C(dhcp6) and C(dhcp_options) run a DHCP client (dhcpcd) on the link; its lease sits beside the static
        addresses, is no change on the next run and is left alone by I(purge).
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
      - With I(rollback_timeout) and I(persist=true) only with keys in files (I(private_key_file)); the journal and the
        state file hold the key file's path, never a key. Under I(rollback_timeout), a change whose undoing needs a key
        (removing a WireGuard link, changing its key, a peer with a preshared key) is refused before anything is
        touched, naming the link; creating links and changing peers, ports and MTUs are undone by the watchdog.
    type: list
    elements: dict
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
  sysctls:
    description:
      - Kernel parameters; each entry takes the options of M(seed.nodenet.sysctl) (C(settings), C(preset),
        C(persist), C(persist_file)). They are set before the links, so forwarding and C(rp_filter) are in place when
        addresses and routes arrive.
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
      - Part of the same journal as every other section, so I(rollback_timeout) reverts it (the table goes back as
        it was listed, or away if there was none) and I(persist) applies it again at boot.
    type: dict
  src:
    description:
      - A node state file on the controller, YAML or JSON (a C(.json) name is read as JSON), holding the node's
        sections with the same names as this module's options (C(links), C(bonds), C(vlans), C(bridges),
        C(wireguard), C(addresses), C(vips), C(routes), C(rules), C(sysctls), C(hostname), C(hosts), C(resolver),
        C(firewall)), like one Talos machine config per node (C(talosctl apply-config --file)).
      - Found as C(ansible.builtin.copy) finds its I(src) - a relative path in the role's C(files/), the playbook's
        C(files/) or beside the playbook. It may be encrypted with C(ansible-vault).
      - Read on the controller by the action plugin as plain data, so a large node state skips Ansible's templating of
        task arguments, which walks every entry on every run. Nothing in the file is templated - a C({{ }}) stays
        literal text. To template a node file, write it with C(ansible.builtin.template) first and point I(src) at the
        result, or give the templated sections as options of the task.
      - Sections from the file join the ones given in the task. A section in both is an error naming it and the file;
        so is a key that is not a section, and a file that is missing, unreadable, not valid YAML or JSON, or not a
        mapping. Then the module does not run and nothing on the node is touched.
      - The options of how to apply the state (I(netns), I(purge), I(rollback_timeout), I(persist), I(talos_config),
        I(confirm), ...) stay in the task, so the same file can be checked, tried with confirm-or-revert and applied.
    type: path
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
        gets 1024; a rule with neither C(src) nor C(dst) is made for IPv4 and IPv6). C(dhcp) and C(dhcpOptions)
        become the link's I(dhcp4), I(dhcp6) and I(dhcp_options), the sysctls one entry of I(sysctls), an
        C(EthernetConfig)'s C(features), C(rings) and C(channels) the link's options of the same names."
      - A C(deviceSelector) (and a bond's C(deviceSelectors)) applies its entry to every link it matches, as in Talos,
        matched on the node's link facts (see C(links) in M(seed.nodenet.network_info)) - C(hardwareAddr),
        C(permanentAddr), C(busPath) and C(driver) as I(selector)'s C(hardware_addr), C(permanent_addr), C(bus_path)
        and C(driver) globs, C(physical) as an Ethernet link of no virtual kind. C(pciID) can't be matched here, so that
        entry is not applied and the field is reported in C(talos_unmapped).
      - An unknown field is an error naming it. What Talos can say but this collection can't do (KubeSpan, a
        C(deviceSelector) that matches no link, DNS over TLS, Wake-on-LAN, DHCPv6's C(duidv6)) is not applied and is
        reported by name, as a warning and in C(talos_unmapped). The other sections of the machine config are not
        network settings and are not read.
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
        C(multi-user.target.wants) link) that applies the same state again at boot, before C(network-pre.target) and
        C(network.target), which it pulls in as a network manager does, so C(network-online.target) and services
        ordered after the network (sshd, kubelet) wait for it even on a node without a network manager.
        The unit waits for the NICs the I(links) section configures without creating them (their udev device units,
        C(sys-subsystem-net-devices-<name>.device)), so a NIC whose driver loads late is configured, not missed.
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
  action:
    support: full
    description: An action plugin reads I(src) on the controller and hands its sections to the module; without I(src) the
      module runs as any other.
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

- name: The node's state from its own file (files/node1.yml beside the playbook, sections as this module's options)
  seed.nodenet.network:
    src: node1.yml
    purge: [addresses, routes]

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
    spec = module_spec()
    spec['src'] = dict(type='path')
    module = AnsibleModule(argument_spec=argument_spec(spec), supports_check_mode=True)
    if module.params['src'] is not None:
        # the action plugin reads src on the controller and never passes it on
        module.fail_json(msg='src is read on the controller by the seed.nodenet.network action plugin, which did not '
                             'run here (the module was called directly); give the sections themselves instead',
                         field='src')
    run_module(module)


if __name__ == '__main__':
    main()
