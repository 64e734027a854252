# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster description on the controller: defaults, the whole-cluster pre-flight and each node's state.

Pure functions of plain data (no Ansible objects), so the role, the filters and the unit tests share
them. One shape, `nodenet_cluster`, read by every cluster role (cluster_network, vip, cni, metallb):
`config()` fills in the defaults, so each role reads the same values.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import ipaddress

ROLES = ('controlplane', 'worker')

# The defaults every role sees (documented in roles/cluster_network/meta/argument_specs.yml).
DEFAULTS = {
    'domain': None,
    'groups': {'control_plane': 'control_plane', 'workers': 'workers'},
    'networks': [],
    'pod_cidrs': ['10.244.0.0/16'],
    'service_cidrs': ['10.96.0.0/12'],
    'dns': {'nameservers': [], 'search_domains': None},
    'mesh': {'enabled': False, 'link': 'wg0', 'port': 51820, 'cidrs': ['10.250.0.0/24'], 'network': None,
             'mtu': None, 'persistent_keepalive_interval': 25, 'key_dir': '/etc/nodenet'},
    'firewall': {'enabled': False, 'default_action': 'block', 'admin_subnets': ['0.0.0.0/0', '::/0'],
                 'api_subnets': ['0.0.0.0/0', '::/0']},
    'vip': None,
    'cni': {'plugin': 'none', 'mode': None, 'multus': False},
    'metallb': None,
    'rollout': {'batch_size': 1, 'rollback_timeout': 120, 'gate_timeout': 20},
}
NETWORK_DEFAULTS = {'name': None, 'cidrs': [], 'mtu': None, 'roles': list(ROLES)}
WG_OVERHEAD = 80      # IPv6 outer header + UDP + WireGuard: the MTU a mesh link gets below its network's


def _merge(default, given):
    if isinstance(default, dict) and isinstance(given, dict):
        out = copy.deepcopy(default)
        for k, v in given.items():
            out[k] = _merge(default.get(k), v) if k in default else copy.deepcopy(v)
        return out
    return copy.deepcopy(default) if given is None else copy.deepcopy(given)


def config(cluster):
    """nodenet_cluster with every default filled in (networks get name, mtu and roles)."""
    c = _merge(DEFAULTS, cluster or {})
    nets = []
    for i, n in enumerate(c.get('networks') or []):
        n = _merge(NETWORK_DEFAULTS, n if isinstance(n, dict) else {})
        if not n.get('name'):
            n['name'] = 'network%d' % i
        nets.append(n)
    c['networks'] = nets
    if c['dns'].get('search_domains') is None:
        c['dns']['search_domains'] = [c['domain']] if c.get('domain') else []
    return c


# ---------------------------------------------------------------- small helpers
def _net(text):
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        return None


def _iface(text):
    try:
        return ipaddress.ip_interface(str(text))
    except ValueError:
        return None


def _ip(text):
    try:
        return ipaddress.ip_address(str(text).split('/', maxsplit=1)[0])
    except ValueError:
        return None


def node_addresses(node):
    """[(interface, link)] of the node's declared addresses (nodenet_network.addresses)."""
    out = []
    for a in (node.get('network') or {}).get('addresses') or []:
        if not isinstance(a, dict) or a.get('state', 'present') == 'absent':
            continue
        i = _iface(a.get('address'))
        if i is not None:
            out.append((i, a.get('link')))
    return out


def _link_mtu(node, link):
    for li in (node.get('network') or {}).get('links') or []:
        if isinstance(li, dict) and li.get('name') == link:
            return li.get('mtu')
    for section in ('bonds', 'vlans', 'bridges'):
        for li in (node.get('network') or {}).get(section) or []:
            if isinstance(li, dict) and li.get('name') == link:
                return li.get('mtu')
    return None


def hostname(node):
    return str(node.get('hostname') or node['name']).split('.', maxsplit=1)[0]


def fqdn(node, c):
    return '%s.%s' % (hostname(node), c['domain']) if c.get('domain') else hostname(node)


def network_addresses(node, net):
    """The node's addresses inside a node network, [(interface, link)], in declared order."""
    cidrs = [n for n in (_net(x) for x in net['cidrs']) if n is not None]
    return [(i, link) for i, link in node_addresses(node)
            if any(i.version == n.version and i.ip in n for n in cidrs)]


def mesh_network(c):
    mesh = c['mesh']
    if mesh.get('network'):
        for n in c['networks']:
            if n['name'] == mesh['network']:
                return n
        return None
    return c['networks'][0] if c['networks'] else None


def mesh_address(node, c):
    """(interface or None, reason): the node's mesh address. Given (node['mesh_address']) or derived:
    the host part of the node's first IPv4 address on the mesh network, placed in the first mesh CIDR
    (192.168.50.11 with 10.250.0.0/24 -> 10.250.0.11/24), so it stays put when nodes are added."""
    mcidrs = [n for n in (_net(x) for x in c['mesh']['cidrs']) if n is not None]
    if not mcidrs:
        return None, 'mesh.cidrs has no valid CIDR'
    if node.get('mesh_address'):
        i = _iface(node['mesh_address'])
        if i is None:
            return None, 'mesh_address %r is not an address' % node['mesh_address']
        if '/' not in str(node['mesh_address']):
            net = [n for n in mcidrs if n.version == i.version]
            i = ipaddress.ip_interface('%s/%d' % (i.ip, net[0].prefixlen if net else i.max_prefixlen))
        return i, None
    net = mesh_network(c)
    if net is None:
        return None, 'no node network for the mesh endpoints (mesh.network)'
    v4 = [i for i, dummy in network_addresses(node, net) if i.version == 4]
    if not v4:
        return None, 'no IPv4 address on network %s to derive the mesh address from (set mesh_address)' % net['name']
    m = [n for n in mcidrs if n.version == 4]
    if not m:
        return None, 'mesh.cidrs has no IPv4 CIDR to derive the mesh address in (set mesh_address)'
    offset = int(v4[0].ip) - int(v4[0].network.network_address)
    if offset >= m[0].num_addresses - 1 or offset == 0:
        return None, 'host part %d of %s does not fit mesh CIDR %s (set mesh_address)' % (offset, v4[0], m[0])
    return ipaddress.ip_interface('%s/%d' % (m[0].network_address + offset, m[0].prefixlen)), None


def endpoint_address(node, c):
    """The address other nodes send this node's mesh packets to (first address on the mesh network)."""
    net = mesh_network(c)
    found = network_addresses(node, net) if net else []
    return found[0][0].ip if found else None


def controlplane_networks(c):
    vip = c.get('vip') or {}
    if vip.get('network'):
        return [n for n in c['networks'] if n['name'] == vip['network']]
    return [n for n in c['networks'] if 'controlplane' in n['roles']]


# ---------------------------------------------------------------- pre-flight
def preflight(nodes, cluster):
    """Every problem of the cluster description, as sorted-by-check strings "[check] what and where".

    nodes: [{name, role (controlplane|worker), network (the node's nodenet_network), hostname?, mesh_address?}]
    An empty list means the cluster may be applied."""
    c = config(cluster)
    problems = []

    def bad(check, msg):
        problems.append('[%s] %s' % (check, msg))

    # the description itself
    if not c['networks']:
        bad('networks', 'nodenet_cluster.networks is empty: declare the node networks (name, cidrs, mtu)')
    cidr_groups = []       # (label, network) for the overlap check

    def collect(label, values, check, group):
        if not isinstance(values, list):
            bad(check, '%s must be a list of CIDRs, got %r' % (label, values))
            return
        for j, text in enumerate(values):
            n = _net(text)
            if n is None:
                bad('cidr-invalid', '%s[%d] %r is not a CIDR' % (label, j, text))
            else:
                cidr_groups.append(('%s[%d] %s' % (label, j, n), n, group))

    names = set()
    for n in c['networks']:
        if n['name'] in names:
            bad('networks', 'network name %s is used twice' % n['name'])
        names.add(n['name'])
        collect('networks[%s].cidrs' % n['name'], n['cidrs'], 'networks', 'networks')
        if not n['cidrs']:
            bad('networks', 'networks[%s] has no cidrs' % n['name'])
        wrong = [r for r in n['roles'] if r not in ROLES]
        if wrong:
            bad('networks', 'networks[%s].roles: %s not one of %s' % (n['name'], ', '.join(map(str, wrong)), ', '.join(ROLES)))
    collect('pod_cidrs', c['pod_cidrs'], 'pod_cidrs', 'pod')
    collect('service_cidrs', c['service_cidrs'], 'service_cidrs', 'service')
    mesh_on = bool(c['mesh'].get('enabled'))
    if mesh_on:
        collect('mesh.cidrs', c['mesh']['cidrs'], 'mesh', 'mesh')
    # overlaps: every CIDR against every other (node networks among themselves too)
    for i, (la, na, ga) in enumerate(cidr_groups):
        for lb, nb, gb in cidr_groups[i + 1:]:
            if na.version == nb.version and na.overlaps(nb):
                bad('mesh-overlap' if 'mesh' in (ga, gb) else 'cidr-overlap', '%s overlaps %s' % (la, lb))

    # nodes: roles, hostnames, addresses, MTU
    seen_names = {}
    seen_addr = {}
    per_net_mtu = {}
    cps = 0
    for node in nodes:
        name = node['name']
        role = node.get('role')
        if role not in ROLES:
            bad('role', '%s: role %r is not one of %s (is it in both groups, or in neither?)' % (name, role, ', '.join(ROLES)))
        cps += role == 'controlplane'
        h = hostname(node).lower()
        if h in seen_names:
            bad('duplicate-hostname', '%s and %s both have the host name %s' % (seen_names[h], name, h))
        else:
            seen_names[h] = name
        for i, link in node_addresses(node):
            key = str(i.ip)
            if key in seen_addr and seen_addr[key] != (name, link):
                bad('duplicate-address', '%s is on %s (%s) and on %s (%s)' % (key, seen_addr[key][0], seen_addr[key][1], name, link))
            else:
                seen_addr[key] = (name, link)
        for net in c['networks']:
            found = network_addresses(node, net)
            if role in net['roles']:
                for version in sorted(set(x.version for x in (_net(t) for t in net['cidrs']) if x is not None)):
                    if not any(i.version == version for i, dummy in found):
                        bad('missing-address', '%s (%s) has no IPv%d address on network %s (%s), which its role needs'
                            % (name, role, version, net['name'], ', '.join(str(t) for t in net['cidrs'])))
            for i, link in found:
                mtu = _link_mtu(node, link)
                if mtu is None:
                    continue
                if net['mtu'] is not None and int(mtu) != int(net['mtu']):
                    bad('mtu-mismatch', '%s: link %s on network %s has MTU %s, the network has %s'
                        % (name, link, net['name'], mtu, net['mtu']))
                per_net_mtu.setdefault(net['name'], {}).setdefault(int(mtu), []).append('%s/%s' % (name, link))
    for net, mtus in sorted(per_net_mtu.items()):
        if len(mtus) > 1:
            bad('mtu-mismatch', 'network %s has links with different MTUs: %s'
                % (net, '; '.join('%d on %s' % (m, ', '.join(sorted(set(w)))) for m, w in sorted(mtus.items()))))
    if nodes and not cps:
        bad('role', 'no control-plane node (inventory group for control planes is empty)')

    # mesh
    if mesh_on:
        if not isinstance(c['mesh'].get('port'), int) or not 0 < c['mesh']['port'] < 65536:
            bad('mesh', 'mesh.port %r is not a port (1-65535)' % c['mesh'].get('port'))
        if c['mesh'].get('network') and mesh_network(c) is None:
            bad('mesh', 'mesh.network %s is not one of networks[].name' % c['mesh']['network'])
        mcidrs = [n for n in (_net(x) for x in c['mesh']['cidrs'] or []) if n is not None]
        seen_mesh = {}
        for node in nodes:
            addr, why = mesh_address(node, c)
            if addr is None:
                bad('mesh-address', '%s: %s' % (node['name'], why))
                continue
            if not any(addr.version == n.version and addr.ip in n for n in mcidrs):
                bad('mesh-address', '%s: mesh address %s is outside mesh.cidrs' % (node['name'], addr))
            if str(addr.ip) in seen_mesh:
                bad('mesh-address', '%s and %s both get mesh address %s' % (seen_mesh[str(addr.ip)], node['name'], addr.ip))
            seen_mesh[str(addr.ip)] = node['name']
            if endpoint_address(node, c) is None:
                bad('mesh-address', '%s has no address on the mesh endpoint network' % node['name'])

    # VIP
    vip = c.get('vip') or {}
    if vip.get('address'):
        ip = _ip(vip['address'])
        nets = controlplane_networks(c)
        if ip is None:
            bad('vip', 'vip.address %r is not an IP address' % vip['address'])
        elif not nets:
            bad('vip', 'no control-plane network to place vip.address %s in (networks[].roles or vip.network)' % ip)
        else:
            inside = [n for n in nets for t in n['cidrs'] if _net(t) is not None and _net(t).version == ip.version and ip in _net(t)]
            if not inside:
                bad('vip', 'vip.address %s is outside the control-plane network (%s)'
                    % (ip, ', '.join('%s %s' % (n['name'], ', '.join(map(str, n['cidrs']))) for n in nets)))
            else:
                for t in inside[0]['cidrs']:
                    n = _net(t)
                    if n is not None and n.version == 4 and n.prefixlen < 31 and ip in (n.network_address, n.broadcast_address):
                        bad('vip', 'vip.address %s is the network or broadcast address of %s' % (ip, n))
            if str(ip) in seen_addr:
                bad('vip', 'vip.address %s is the address of %s (%s)' % (ip, seen_addr[str(ip)][0], seen_addr[str(ip)][1]))

    # rollout
    for key in ('batch_size', 'gate_timeout'):
        v = c['rollout'].get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            bad('rollout', 'rollout.%s must be a whole number >= 1, got %r' % (key, v))
    return problems


def report(problems):
    """One message naming every problem."""
    return ('cluster pre-flight found %d problem(s); nothing was applied on any node:\n  - %s'
            % (len(problems), '\n  - '.join(problems)))


# ---------------------------------------------------------------- what each node gets
def batches(nodes, cluster):
    """[[node names]] in rollout order: control planes first, then workers, batch_size at a time."""
    c = config(cluster)
    size = max(1, int(c['rollout']['batch_size']))
    order = [n['name'] for n in nodes if n.get('role') == 'controlplane'] + [n['name'] for n in nodes if n.get('role') != 'controlplane']
    return [order[i:i + size] for i in range(0, len(order), size)]


def hosts_entries(nodes, cluster):
    """/etc/hosts entries: every node's addresses on the node networks as <node>.<domain> and <node>."""
    c = config(cluster)
    out = []
    for node in nodes:
        aliases = [fqdn(node, c), hostname(node)] if c.get('domain') else [hostname(node)]
        ips = []
        for net in c['networks']:
            ips.extend(str(i.ip) for i, dummy in network_addresses(node, net))
        for ip in dict.fromkeys(ips):
            out.append({'ip': ip, 'aliases': aliases})
    return out


def node_network(name, nodes, cluster):
    """The node's network task: its own nodenet_network plus hostname, /etc/hosts and resolvers."""
    c = config(cluster)
    node = _find(name, nodes)
    state = copy.deepcopy(node.get('network') or {})
    state.setdefault('hostname', {'hostname': fqdn(node, c)})
    if 'hosts' not in state:
        state['hosts'] = {'entries': hosts_entries(nodes, cluster)}
    if 'resolver' not in state and c['dns'].get('nameservers'):
        state['resolver'] = {'nameservers': c['dns']['nameservers'], 'search_domains': c['dns']['search_domains']}
    return state


def node_mesh(name, nodes, cluster, public_keys):
    """The node's mesh: {wireguard: [link with every other node as a peer], addresses: [its mesh address]}.
    public_keys: {node name: public key} (facts); nodes without a key yet are left out."""
    c = config(cluster)
    mesh = c['mesh']
    node = _find(name, nodes)
    peers = []
    for other in nodes:
        if other['name'] == name or not public_keys.get(other['name']):
            continue
        addr = mesh_address(other, c)[0]
        ep = endpoint_address(other, c)
        peers.append({
            'public_key': public_keys[other['name']],
            'endpoint': ('[%s]:%d' if ep.version == 6 else '%s:%d') % (ep, mesh['port']),
            'allowed_ips': ['%s/%d' % (addr.ip, addr.max_prefixlen)],
            'persistent_keepalive_interval': mesh['persistent_keepalive_interval'],
        })
    mtu = mesh.get('mtu')
    net = mesh_network(c)
    if mtu is None and net and net.get('mtu'):
        mtu = int(net['mtu']) - WG_OVERHEAD
    link = {'name': mesh['link'], 'private_key_file': key_file(cluster), 'generate_key': True,
            'listen_port': mesh['port'], 'up': True, 'peers': peers}
    if mtu:
        link['mtu'] = mtu
    return {'wireguard': [link], 'addresses': [{'address': str(mesh_address(node, c)[0]), 'link': mesh['link']}]}


def key_file(cluster):
    c = config(cluster)
    return '%s/%s.key' % (c['mesh']['key_dir'].rstrip('/'), c['mesh']['link'])


def gate_targets(name, nodes, cluster, names):
    """What node `name` must reach before its batch is confirmed: [{node, via, address}] for every node
    in `names` (the nodes rolled out so far, its own batch included) except itself, over each node
    network it shares with them and over the mesh when enabled."""
    c = config(cluster)
    me = _find(name, nodes)
    out = []
    for other in nodes:
        if other['name'] == name or other['name'] not in names:
            continue
        for net in c['networks']:
            mine = network_addresses(me, net)
            for i, dummy in network_addresses(other, net):
                if any(m.version == i.version for m, d in mine):
                    out.append({'node': other['name'], 'via': net['name'], 'address': str(i.ip)})
        if c['mesh']['enabled']:
            out.append({'node': other['name'], 'via': 'mesh', 'address': str(mesh_address(other, c)[0].ip)})
    return out


def firewall_vars(name, nodes, cluster):
    """The firewall role's variables for this node, from its role and the cluster description."""
    c = config(cluster)
    node = _find(name, nodes)
    fw = c['firewall']
    cluster_subnets = [str(_net(t)) for n in c['networks'] for t in n['cidrs'] if _net(t) is not None]
    cp = [str(ipaddress.ip_interface('%s/%d' % (i.ip, i.max_prefixlen)).network)
          for other in nodes if other.get('role') == 'controlplane'
          for net in c['networks'] for i, dummy in network_addresses(other, net)]
    extra = [{'name': 'nodenet-ping', 'port_selector': {'protocol': 'icmp'},
              'ingress': [{'subnet': s} for s in cluster_subnets if ':' not in s]
              + ([{'subnet': str(_net(m))} for m in c['mesh']['cidrs'] if ':' not in str(m)] if c['mesh']['enabled'] else [])}]
    v6 = [s for s in cluster_subnets if ':' in s] + ([str(m) for m in c['mesh']['cidrs'] if ':' in str(m)] if c['mesh']['enabled'] else [])
    if v6:
        extra.append({'name': 'nodenet-ping6', 'port_selector': {'protocol': 'icmpv6'}, 'ingress': [{'subnet': s} for s in v6]})
    if c['mesh']['enabled']:
        extra.append({'name': 'nodenet-mesh', 'port_selector': {'protocol': 'udp', 'ports': [c['mesh']['port']]},
                      'ingress': [{'subnet': s} for s in cluster_subnets]})
    cni = (c.get('cni') or {}).get('plugin') or 'none'
    out = {
        'firewall_node_role': node.get('role'),
        'firewall_cni': cni,
        'firewall_default_action': fw['default_action'],
        'firewall_cluster_subnets': cluster_subnets,
        'firewall_pod_subnets': [str(x) for x in c['pod_cidrs']],
        'firewall_controlplane_subnets': cp,
        'firewall_admin_subnets': fw['admin_subnets'],
        'firewall_api_subnets': fw['api_subnets'],
        'firewall_extra_rules': extra,
    }
    return out


def _find(name, nodes):
    for n in nodes:
        if n['name'] == name:
            return n
    raise KeyError('%s is not a node of the cluster' % name)
