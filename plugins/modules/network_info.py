#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: network_info
short_description: Read a node's network state as typed status resources
version_added: 0.1.0
description:
  - Returns the node's links, addresses, routes, rules, node addresses, resolvers and host name as records modelled on
    Talos's C(LinkStatus), C(AddressStatus), C(RouteStatus), C(RoutingRule), C(NodeAddress), C(ResolverStatus) and
    C(HostnameStatus) resources, with Talos's field names in snake_case - the same records the other modules compare
    against, so what you see is what they plan from.
  - C(wireguard) lists the WireGuard links with their public keys and peers; private and preshared keys never appear.
  - C(firewall) is the policy of the table C(inet nodenet) that M(seed.nodenet.firewall) manages, read with
    C(nft -j list table) (needs the C(nft) command), plus the names of the other nftables tables.
  - C(vips) lists the virtual IPs - addresses marked as VIPs by M(seed.nodenet.vip) (address protocol 118), and
    the ones keepalived manages according to I(keepalived_conf) - with C(held), whether this node holds them now.
  - C(sysctls) maps the networking kernel parameters that matter most to a node (forwarding, C(rp_filter),
    C(bridge-nf-call-iptables), conntrack sizes, socket buffers) to their values in I(netns), as the kernel shows
    them; a key the kernel does not have there (a kernel module not loaded) is left out. M(seed.nodenet.sysctl) sets them.
  - C(nics) is the NIC tuning of every link that has a driver (as C(ethtool -i) names it) - queue counts
    (C(channels) and their C(channels_max)), ring sizes (C(rings), C(rings_max)) and offloads (C(features), with the
    C(fixed) ones the driver does not let change); a part the driver does not support is null.
  - C(hosts) lists the entries of the managed block of I(hosts_file) - the static host entries M(seed.nodenet.network)'s
    C(hosts) section (or Talos's C(StaticHostConfig)) wrote.
  - C(resolvers), C(hostname) and C(hosts) come from files and the UTS namespace, not from the network namespace I(netns).
  - Read only; the facts are set under C(nodenet) (C(ansible_facts.nodenet)).
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.common
options:
  gather:
    description: Which resources to read. Reading fewer is faster on nodes with large routing tables.
    type: list
    elements: str
    choices: [links, addresses, routes, rules, node_addresses, resolvers, hostname, hosts, wireguard, firewall, vips, sysctls, nics,
              dhcp]
    default: [links, addresses, routes, rules, node_addresses, resolvers, hostname, hosts, wireguard, firewall, vips, sysctls, nics,
              dhcp]
  resolv_conf:
    description:
      - The resolv.conf the C(resolvers) record is read from. When it is systemd-resolved's stub, the upstream servers
        are read from C(/run/systemd/resolve/resolv.conf).
    type: path
    default: /etc/resolv.conf
  hosts_file:
    description:
      - The hosts file whose managed block (the entries the C(hosts) section of M(seed.nodenet.network) writes) the
        C(hosts) resource lists. A missing file lists none.
    type: path
    default: /etc/hosts
    version_added: 0.1.0
  keepalived_conf:
    description:
      - The keepalived configuration whose C(virtual_ipaddress) blocks the C(vips) resource lists, held or not
        (the role C(seed.nodenet.vip) writes it). A missing file lists none.
    type: path
    default: /etc/keepalived/keepalived.conf
  export:
    description:
      - C(talos) also returns the gathered state as Talos multi-document network configuration (C(talos_config), YAML
        text, and C(talos_documents)), which M(seed.nodenet.network)'s I(talos_config) reads back to the same state, so
        an existing node can be adopted declaratively.
      - What Talos documents can't say (WireGuard private keys, a dynamic address, a route another program manages, a
        rule for one address family only, ...) is left out and listed in C(talos_not_exported). The entries of the
        hosts file's managed block (the C(hosts) resource) are exported as C(StaticHostConfig) documents; the file's
        other lines are the node's own and are not exported.
    type: str
    choices: [talos]
attributes:
  check_mode:
    support: full
    description: Read only; check mode changes nothing.
  diff_mode:
    support: none
    description: Read only; there is nothing to diff.
'''

EXAMPLES = r'''
- name: Everything
  seed.nodenet.network_info:

- name: Only links and addresses, inside a lab namespace
  seed.nodenet.network_info:
    gather: [links, addresses]
    netns: lab-node1

- name: Export the node's network as Talos documents, to adopt it declaratively
  seed.nodenet.network_info:
    export: talos
  register: current

- name: Keep them
  ansible.builtin.copy:
    content: "{{ current.talos_config }}"
    dest: "host_files/{{ inventory_hostname }}-network.yaml"
    mode: "0644"
  delegate_to: localhost

- name: Use the facts
  ansible.builtin.debug:
    msg: "{{ ansible_facts.nodenet.links | selectattr('up') | map(attribute='name') | list }}"
'''

RETURN = r'''
ansible_facts:
  description: The status resources, under C(nodenet).
  returned: always
  type: complex
  contains:
    nodenet:
      description: One list per resource gathered (same content as the top-level keys below).
      type: dict
      returned: always
links:
  description:
    - LinkStatus records, by index.
    - The hardware facts a link selector matches (C(driver), C(bus_path), C(permanent_addr), C(kernel_driver)) are null
      where the link has none (a veth has only C(driver=veth)).
  returned: when gathered
  type: list
  elements: dict
  sample:
    - {name: eth0, index: 2, kind: null, type: ether, flags: [UP, BROADCAST, RUNNING, MULTICAST, LOWER_UP], up: true,
       mtu: 1500, min_mtu: 68, max_mtu: 9000, operational_state: up, hardware_addr: "52:54:00:12:34:56",
       broadcast_addr: "ff:ff:ff:ff:ff:ff", txqueuelen: 1000, alias: null, master: null, driver: virtio_net,
       bus_path: virtio1, permanent_addr: "52:54:00:12:34:56", kernel_driver: virtio_net}
addresses:
  description:
    - AddressStatus records.
    - An address a DHCP client on the link leased has C(operator) (C(dhcp4) or C(dhcp6)) and its lifetimes; static ones
      have no C(operator).
  returned: when gathered
  type: list
  elements: dict
  sample:
    - {address: 192.0.2.10/24, link: eth0, link_index: 2, family: inet4, scope: global, flags: [permanent], label: eth0, broadcast: null}
routes:
  description:
    - RouteStatus records (unicast, blackhole, unreachable and prohibit routes of every table).
    - A route a DHCP client on the link added (C(protocol=dhcp)) has C(operator) (C(dhcp4) or C(dhcp6)).
  returned: when gathered
  type: list
  elements: dict
  sample:
    - {destination: 0.0.0.0/0, family: inet4, gateway: 192.0.2.1, source: null, link: eth0, metric: 0, mtu: null,
       table: 254, type: unicast, scope: global, protocol: static}
rules:
  description: Policy routing rules.
  returned: when gathered
  type: list
  elements: dict
  sample:
    - {family: inet4, priority: 32766, table: 254, action: unicast}
node_addresses:
  description: C(current) global addresses on up links, and C(default) ones on the default route's link (one per family).
  returned: when gathered
  type: dict
  sample: {current: [192.0.2.10/24], default: [192.0.2.10/24]}
resolvers:
  description:
    - ResolverStatus - the nameservers, search domains and options (a mapping; flags are C(true)) of I(resolv_conf),
      and who manages it (C(file) or C(systemd-resolved)).
  returned: when gathered
  type: dict
  sample: {nameservers: [192.0.2.53], search_domains: [example.com], options: {ndots: 2, rotate: true},
           manager: file, path: /etc/resolv.conf}
wireguard:
  description:
    - One record per WireGuard link (kernel, or userspace served from this namespace) - backend, public key, listen
      port, firewall mark, and its peers with endpoint, allowed IPs, latest handshake (Unix time, null before the
      first) and transfer counters.
    - Private keys never appear; a preshared key shows as a per-run fingerprint (C(<redacted:1a2b3c4d>)), null when unset.
  returned: when gathered
  type: list
  elements: dict
  sample:
    - {name: wg0, backend: kernel, public_key: "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=", listen_port: 51820,
       firewall_mark: 0, up: true, mtu: 1420,
       peers: [{public_key: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", preshared_key: null,
                endpoint: "192.0.2.20:51820", persistent_keepalive_interval: 25, allowed_ips: [10.10.0.2/32],
                latest_handshake: 1764162000, rx_bytes: 1234, tx_bytes: 5678}]}
hostname:
  description: HostnameStatus - the kernel's host name (first label), domain name (null when unset) and FQDN.
  returned: when gathered
  type: dict
  sample: {hostname: node1, domainname: example.com, fqdn: node1.example.com}
hosts:
  description:
    - StaticHostStatus - C(path), C(managed) (the file has a managed block) and C(entries), the C(ip) and C(aliases) of
      each line of the managed block in file order.
  returned: when gathered
  type: dict
  version_added: 0.1.0
  sample: {path: /etc/hosts, managed: true, entries: [{ip: 192.0.2.20, aliases: [registry.example.com, registry]}]}
firewall:
  description:
    - The ingress policy installed by M(seed.nodenet.firewall) - C(default_action) and the C(rules) in order
      (C(name), C(port_selector), C(ingress) as subnets with exceptions, and the C(packets) and C(bytes) they matched),
      C(present) false when there is no C(inet nodenet) table, and C(other_tables) (C(family name) of every other table).
  returned: when gathered
  type: dict
  sample: {table: inet nodenet, present: true, default_action: block, other_tables: [ip filter],
           rules: [{name: kubelet, port_selector: {protocol: tcp, ports: [10250]}, ingress: [{subnet: 192.0.2.0/24}],
                    packets: 3, bytes: 180}]}
talos_config:
  description: With I(export=talos), the state as Talos multi-document YAML.
  returned: when export is talos
  type: str
  sample: "---\napiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\nup: true\nmtu: 1500\naddresses:\n- address: 192.0.2.10/24\n"
talos_documents:
  description: With I(export=talos), the same documents as a list.
  returned: when export is talos
  type: list
  elements: dict
talos_not_exported:
  description: With I(export=talos), what was gathered but can't be said in Talos documents (C(field), C(reason)).
  returned: when export is talos
  type: list
  elements: dict
  sample: [{field: "links.wg0.privateKey", reason: "private keys never leave the node"}]
vips:
  description:
    - VipStatus records - C(address), C(link), C(family), C(held) (the address is on this node now), C(managed_by)
      (C(nodenet) for an address marked by M(seed.nodenet.vip), C(keepalived) for one named in I(keepalived_conf)) and
      C(protocol) (the address protocol mark, 118, or null).
  returned: when gathered
  type: list
  elements: dict
  sample:
    - {address: 192.0.2.100/32, link: eth0, link_index: 2, family: inet4, held: true, managed_by: nodenet, protocol: 118}
    - {address: "2001:db8::100/128", link: eth0, link_index: null, family: inet6, held: false, managed_by: keepalived,
       protocol: null}
sysctls:
  description:
    - KernelParamStatus - the watched networking kernel parameters of I(netns) (those that exist there), name to value
      as the kernel shows it (whitespace runs as one space).
  returned: when gathered
  type: dict
  sample: {net.ipv4.ip_forward: '1', net.ipv6.conf.all.forwarding: '1', net.ipv4.ip_local_port_range: 32768 60999}
nics:
  description: The ethtool state of each link with a driver, in link index order (see C(nics) above).
  returned: when gathered
  type: list
  elements: dict
  sample:
    - {link: eth0, driver: veth, channels: {rx: 2, tx: 4, other: 0, combined: 0},
       channels_max: {rx: 4, tx: 4, other: 0, combined: 0}, rings: null, rings_max: null,
       features: {rx-gro: true, tx-tcp-segmentation: true}, fixed: [tx-checksum-ipv4]}
dhcp:
  description:
    - One record per link with a DHCP client (links[].dhcp4/dhcp6) - C(link), C(client) (C(dhcpcd)), C(running), C(pid),
      the settings (C(dhcp4), C(dhcp6), C(route_metric), C(use_dns)) and what each lease gave (C(lease4), C(lease6);
      null until the server answered).
  returned: when gathered
  type: list
  elements: dict
  version_added: 0.1.0
  sample:
    - {link: eth0, client: dhcpcd, running: true, pid: 4242, dhcp4: true, dhcp6: false, route_metric: 1024, use_dns: false,
       lease4: {address: 192.0.2.117/24, gateways: [192.0.2.1], dns_servers: [192.0.2.53], search_domains: [lab.example],
                server: 192.0.2.1, lease_time: 3600}}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import lock
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files.hosts import HOSTS
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files.resolver import RESOLV_CONF
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.firewall import command_runner
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import ALL, KEEPALIVED_CONF, gather
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos.adopt import export_talos


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(dict(
            gather=dict(type='list', elements='str', choices=list(ALL), default=list(ALL)),
            resolv_conf=dict(type='path', default=RESOLV_CONF),
            keepalived_conf=dict(type='path', default=KEEPALIVED_CONF),
            hosts_file=dict(type='path', default=HOSTS),
            export=dict(type='str', choices=['talos']),
        )),
        supports_check_mode=True,
    )
    try:
        facts = gather(module.params['netns'], module.params['gather'], module.params['resolv_conf'],
                       run=command_runner(module.run_command), keepalived_conf=module.params['keepalived_conf'],
                       hosts_path=module.params['hosts_file'])
    except NodenetError as e:
        module.fail_json(msg=str(e), field=e.field)
    busy = lock.busy_warning(module.params['netns'])
    if busy:
        module.warn(busy)
    result = dict(changed=False, ansible_facts={'nodenet': facts})
    result.update(facts)
    if module.params['export'] == 'talos':
        result.update(export_talos(facts))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
