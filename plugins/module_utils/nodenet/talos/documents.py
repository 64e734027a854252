# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talos's multi-document network configs (apiVersion v1alpha1, one `kind` each) -> the builder.

Field names and meaning from Talos's pkg/machinery/config/types/network: a link document brings
its link up unless `up: false`; a route without destination is the default route of its
gateway's family, without metric it gets 1024 and without table `main`; a RoutingRuleConfig is
named by its priority and, with neither src nor dst, applies to IPv4 and IPv6; a
Layer2VIPConfig and a StaticHostConfig are named by their address.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos import fields
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos.common import (
    as_list, check_known, item, number, sub)

META = ('apiVersion', 'kind')
COMMON = ('up', 'mtu', 'addresses', 'routes', 'multicast')
ROUTE = ('destination', 'gateway', 'source', 'metric', 'mtu', 'table')
BOND = {
    'bondMode': 'mode', 'miimon': 'miimon', 'updelay': 'updelay', 'downdelay': 'downdelay', 'useCarrier': 'use_carrier',
    'xmitHashPolicy': 'xmit_hash_policy', 'arpInterval': 'arp_interval', 'arpIpTargets': 'arp_ip_targets',
    'nsIp6Targets': 'ns_ip6_targets', 'arpValidate': 'arp_validate', 'arpAllTargets': 'arp_all_targets',
    'lacpRate': 'lacp_rate', 'failOverMac': 'fail_over_mac', 'adSelect': 'ad_select',
    'adActorSysPrio': 'ad_actor_sys_prio', 'adUserPortKey': 'ad_user_port_key', 'adLACPActive': 'ad_lacp_active',
    'primary': 'primary', 'primaryReselect': 'primary_reselect', 'resendIGMP': 'resend_igmp', 'minLinks': 'min_links',
    'lpInterval': 'lp_interval', 'packetsPerSlave': 'packets_per_slave', 'numPeerNotif': 'num_peer_notif',
    'tlbLogicalLb': 'tlb_dynamic_lb', 'allSlavesActive': 'all_slaves_active', 'peerNotifDelay': 'peer_notif_delay',
    'missedMax': 'missed_max',
}
RING_KEYS = ('rx', 'tx', 'rx-mini', 'rx-jumbo', 'rx-buf-len', 'cqe-size', 'tx-push', 'rx-push', 'tx-push-buf-len',
             'tcp-data-split')
CHANNEL_KEYS = ('rx', 'tx', 'other', 'combined')
# Kinds of documents that are about the network but have no equivalent here: reported, never applied.
NOT_MAPPED = {
    'KubeSpanConfig': "KubeSpan (Talos's own WireGuard mesh driven by its discovery service) has no equivalent here; "
                      "build the mesh with the wireguard section or the cluster role's mesh",
    'KubeSpanEndpointsConfig': 'KubeSpan has no equivalent here',
    'HCloudVIPConfig': "the VIP is moved through the Hetzner Cloud API by Talos; use the vip role's hcloud provider",
    'LinkAliasConfig': 'link aliases chosen by a CEL expression have no equivalent here',
    'VRFConfig': 'VRF links are not a kind of this collection',
    'TimeSyncConfig': 'time synchronisation is not network configuration here',
    'BGPInstanceConfig': 'BGP is for a routing daemon (FRR, BIRD), not this collection',
    'TCPProbeConfig': 'network probes are not configuration here',
    'HTTPProbeConfig': 'network probes are not configuration here',
    'KubeSpanIdentityConfig': 'KubeSpan has no equivalent here',
}


def link_common(b, entry, doc, where):
    """CommonLinkConfig: up (default true), mtu, addresses, routes, multicast; and hardwareAddr where
    the kind has it (its reader's check_known has let it through or not)."""
    fields.link_basics(b, entry, doc, where)
    fields.addresses(b, entry['name'], doc, where)
    fields.routes(b, entry['name'], doc, where, ROUTE, 'destination')
    if doc.get('multicast') is not None:
        b.skip(sub(where, 'multicast'), 'the link kind has no multicast flag option')


def named(doc, where, what):
    if doc.get('name') in (None, ''):
        raise ValidationError('a %s needs a name' % what, sub(where, 'name'))
    return str(doc['name'])


def link_config(b, doc, where):
    check_known(doc, META + ('name',) + COMMON, where, 'LinkConfig')
    entry = b.link(named(doc, where, 'LinkConfig'), 'links', where)
    link_common(b, entry, doc, where)


def dummy_config(b, doc, where):
    check_known(doc, META + ('name', 'hardwareAddr') + COMMON, where, 'DummyLinkConfig')
    entry = b.link(named(doc, where, 'DummyLinkConfig'), 'links', where, kind='dummy')
    link_common(b, entry, doc, where)


def bond_config(b, doc, where):
    check_known(doc, META + ('name', 'hardwareAddr', 'links') + tuple(BOND) + COMMON, where, 'BondConfig')
    entry = b.link(named(doc, where, 'BondConfig'), 'bonds', where)
    b.set(entry, 'links', fields.members(doc, 'links', where), sub(where, 'links'))
    fields.bond_options(b, entry, doc, where, BOND, zero_unset=False)
    link_common(b, entry, doc, where)


def vlan_config(b, doc, where):
    check_known(doc, META + ('name', 'vlanID', 'vlanMode', 'parent') + COMMON, where, 'VLANConfig')
    entry = b.link(named(doc, where, 'VLANConfig'), 'vlans', where)
    fields.vlan(b, entry, doc.get('parent'), sub(where, 'parent'), doc, where, 'vlanID', 'vlanMode')
    link_common(b, entry, doc, where)


def bridge_config(b, doc, where):
    check_known(doc, META + ('name', 'hardwareAddr', 'links', 'stp', 'vlan') + COMMON, where, 'BridgeConfig')
    entry = b.link(named(doc, where, 'BridgeConfig'), 'bridges', where)
    fields.bridge(b, entry, doc, where, 'links', 'filtering')
    link_common(b, entry, doc, where)


def wireguard_config(b, doc, where):
    check_known(doc, META + ('name',) + fields.WIREGUARD + COMMON, where, 'WireguardConfig')
    entry = b.link(named(doc, where, 'WireguardConfig'), 'wireguard', where)
    fields.wireguard(b, entry, doc, where)
    link_common(b, entry, doc, where)


def veth_config(b, doc, where):
    check_known(doc, META + ('name', 'peer') + COMMON, where, 'VethConfig')
    peer = doc.get('peer') or {}
    pw = sub(where, 'peer')
    check_known(peer, ('name',) + COMMON, pw, 'peer')
    if not peer.get('name'):
        raise ValidationError('a veth pair needs the name of its other end', sub(pw, 'name'))
    entry = b.link(named(doc, where, 'VethConfig'), 'links', where, kind='veth')
    b.set(entry, 'peer', str(peer['name']), sub(pw, 'name'))
    link_common(b, entry, doc, where)
    other = b.link(str(peer['name']), 'links', pw)
    link_common(b, other, peer, pw)


def layer2_vip_config(b, doc, where):
    check_known(doc, META + ('name', 'link'), where, 'Layer2VIPConfig')
    if not doc.get('link'):
        raise ValidationError('a Layer2VIPConfig needs the link to announce the VIP on', sub(where, 'link'))
    fields.vip(b, named(doc, where, 'Layer2VIPConfig'), doc['link'], where)


def resolver_config(b, doc, where):
    check_known(doc, META + ('nameservers', 'searchDomains', 'hostDNS'), where, 'ResolverConfig')
    servers = []
    for i, ns in enumerate(as_list(doc.get('nameservers'), sub(where, 'nameservers'))):
        nw = item(sub(where, 'nameservers'), i)
        check_known(ns, ('address', 'protocol', 'tlsServerName'), nw, 'a nameserver')
        servers.append(str(ns.get('address')))
        if ns.get('protocol') not in (None, '', 'Do53', 'do53') or ns.get('tlsServerName'):
            b.skip(sub(nw, 'protocol'), 'resolv.conf has no DNS-over-TLS; the server is written as a plain one')
    if servers:
        b.resolver['nameservers'] = servers
    sd = doc.get('searchDomains') or {}
    check_known(sd, ('domains', 'disableDefault'), sub(where, 'searchDomains'), 'searchDomains')
    if sd.get('domains'):
        b.resolver['search_domains'] = [str(x) for x in sd['domains']]
    if sd.get('disableDefault') is False:
        b.skip(sub(where, 'searchDomains.disableDefault'), "Talos adds the host name's domain to the search domains; "
               "here only the listed domains are written (list the domain there)")
    hd = doc.get('hostDNS') or {}
    if any(hd.get(k) for k in hd):
        b.skip(sub(where, 'hostDNS'), "Talos's host DNS cache has no equivalent here")
    b.resolver['_from'] = {'nameservers': sub(where, 'nameservers'), 'search_domains': sub(where, 'searchDomains.domains')}


def static_host_config(b, doc, where):
    check_known(doc, META + ('name', 'hostnames'), where, 'StaticHostConfig')
    b.hosts.append({'ip': named(doc, where, 'StaticHostConfig'),
                    'aliases': [str(x) for x in as_list(doc.get('hostnames'), sub(where, 'hostnames'))]})


def hostname_config(b, doc, where):
    check_known(doc, META + ('auto', 'hostname'), where, 'HostnameConfig')
    if doc.get('hostname') and doc.get('auto'):
        raise ValidationError('hostname and auto conflict (Talos takes one or the other)', sub(where, 'auto'))
    if doc.get('hostname'):
        b.hostname = {'hostname': str(doc['hostname']), '_from': {'hostname': sub(where, 'hostname')}}
    elif doc.get('auto'):
        b.skip(sub(where, 'auto'), "a generated host name (Talos's machine identity) has no equivalent here; give hostname")


def routing_rule_config(b, doc, where):
    check_known(doc, META + ('name', 'src', 'dst', 'table', 'action', 'iifName', 'oifName', 'fwMark', 'fwMask'), where,
                'RoutingRuleConfig')
    prio = number(named(doc, where, 'RoutingRuleConfig'), sub(where, 'name'))
    if not isinstance(prio, int):
        raise ValidationError("'%s' is not a priority: a RoutingRuleConfig is named by its priority (1-32765)" % prio,
                              sub(where, 'name'))
    entry = {'priority': prio, 'src': doc.get('src') or None, 'dst': doc.get('dst') or None,
             'action': doc.get('action') or None, 'iif_name': doc.get('iifName') or None,
             'oif_name': doc.get('oifName') or None, 'fw_mark': doc.get('fwMark') or None,
             'fw_mask': doc.get('fwMask') or None}
    if doc.get('table') not in (None, ''):
        entry['table'] = number(doc['table'], sub(where, 'table'))
    if entry['src'] or entry['dst']:
        b.add('rules', entry, where)
    else:
        # Talos: with neither src nor dst the rule is made for both families
        for fam in ('inet4', 'inet6'):
            e = dict(entry)
            e['family'] = fam
            b.add('rules', e, where)


def blackhole_route_config(b, doc, where):
    check_known(doc, META + ('name', 'metric'), where, 'BlackholeRouteConfig')
    b.add('routes', {'destination': named(doc, where, 'BlackholeRouteConfig'), 'type': 'blackhole',
                     'metric': 1024 if doc.get('metric') in (None, '') else doc['metric']}, where)


def default_action_config(b, doc, where):
    check_known(doc, META + ('ingress',), where, 'NetworkDefaultActionConfig')
    fw = firewall(b, where)
    fw['default_action'] = doc.get('ingress') or 'accept'
    fw['_from']['default_action'] = sub(where, 'ingress')


def rule_config(b, doc, where):
    check_known(doc, META + ('name', 'portSelector', 'ingress'), where, 'NetworkRuleConfig')
    ps = doc.get('portSelector') or {}
    check_known(ps, ('ports', 'protocol'), sub(where, 'portSelector'), 'portSelector')
    ingress = []
    for i, rule in enumerate(as_list(doc.get('ingress'), sub(where, 'ingress'))):
        iw = item(sub(where, 'ingress'), i)
        check_known(rule, ('subnet', 'except'), iw, 'an ingress rule')
        one = {'subnet': str(rule.get('subnet'))}
        if rule.get('except'):
            one['except'] = [str(rule['except'])]
        ingress.append(one)
    sel = {'protocol': str(ps.get('protocol') or '')}
    if ps.get('ports'):
        sel['ports'] = list(ps['ports'])
    fw = firewall(b, where)
    fw['rules'].append({'name': named(doc, where, 'NetworkRuleConfig'), 'port_selector': sel, 'ingress': ingress})


def firewall(b, where):
    if b.firewall is None:
        b.firewall = {'default_action': 'accept', 'rules': [], '_from': {'firewall': where}}
    return b.firewall


def ethernet_config(b, doc, where):
    check_known(doc, META + ('name', 'features', 'rings', 'channels', 'wakeOnLan'), where, 'EthernetConfig')
    entry = b.link(named(doc, where, 'EthernetConfig'), 'links', where)
    if doc.get('features'):
        b.set(entry, 'features', dict((str(k), bool(val)) for k, val in doc['features'].items()), sub(where, 'features'))
    for key, keys in (('rings', RING_KEYS), ('channels', CHANNEL_KEYS)):
        if doc.get(key):
            check_known(doc[key], keys, sub(where, key), key)
            b.set(entry, key, dict((k.replace('-', '_'), val) for k, val in doc[key].items()), sub(where, key))
    if doc.get('wakeOnLan'):
        b.skip(sub(where, 'wakeOnLan'), 'Wake-on-LAN is not a link option of this collection')


def dhcp_config(b, doc, where, option):
    check_known(doc, META + ('name', 'routeMetric', 'ignoreHostname', 'ignoreRoutes', 'clientIdentifier', 'duidRaw'),
                where, doc.get('kind'))
    entry = b.link(named(doc, where, doc.get('kind')), 'links', where)
    fields.dhcp(b, entry, option, where, doc.get('routeMetric'), sub(where, 'routeMetric'))
    for k in ('ignoreHostname', 'ignoreRoutes', 'clientIdentifier', 'duidRaw'):
        if doc.get(k):
            b.skip(sub(where, k), 'no DHCP option of this collection takes it')


def sysctl_config(b, doc, where):
    check_known(doc, META + ('params',), where, 'SysctlConfig')
    fields.sysctls(b, doc.get('params'), sub(where, 'params'))


KINDS = {
    'LinkConfig': link_config,
    'DummyLinkConfig': dummy_config,
    'VethConfig': veth_config,
    'BondConfig': bond_config,
    'VLANConfig': vlan_config,
    'BridgeConfig': bridge_config,
    'WireguardConfig': wireguard_config,
    'Layer2VIPConfig': layer2_vip_config,
    'ResolverConfig': resolver_config,
    'StaticHostConfig': static_host_config,
    'HostnameConfig': hostname_config,
    'RoutingRuleConfig': routing_rule_config,
    'BlackholeRouteConfig': blackhole_route_config,
    'NetworkDefaultActionConfig': default_action_config,
    'NetworkRuleConfig': rule_config,
    'EthernetConfig': ethernet_config,
    'DHCPv4Config': lambda b, doc, where: dhcp_config(b, doc, where, 'dhcp4'),
    'DHCPv6Config': lambda b, doc, where: dhcp_config(b, doc, where, 'dhcp6'),
    'SysctlConfig': sysctl_config,
}
