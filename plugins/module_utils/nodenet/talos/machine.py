# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talos's v1alpha1 machine config: `machine.network` and `machine.sysctls` -> the builder.

Field names and meaning from Talos's pkg/machinery/config/types/v1alpha1 (NetworkConfig, Device,
Bond, Vlan, Bridge, DeviceWireguardConfig, DeviceVIPConfig, Route, ExtraHost) and its network
controllers (a route without a network is the default route, without a metric it gets 1024; a
VLAN link is named <interface>.<vlanId>; a deviceSelector applies to every link it matches).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos import fields
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos.common import as_list, check_known, item, sub

NETWORK = ('hostname', 'interfaces', 'nameservers', 'searchDomains', 'extraHostEntries', 'kubespan', 'disableSearchDomain')
DEVICE = ('interface', 'deviceSelector', 'addresses', 'cidr', 'routes', 'bond', 'bridge', 'bridgePort', 'vlans', 'mtu',
          'dhcp', 'ignore', 'dummy', 'dhcpOptions', 'wireguard', 'vip')
ROUTE = ('network', 'gateway', 'source', 'metric', 'mtu')
VLAN = ('addresses', 'cidr', 'routes', 'dhcp', 'vlanId', 'mtu', 'vip', 'dhcpOptions')
VIP = ('ip', 'equinixMetal', 'hcloud')
DHCP_OPTIONS = ('routeMetric', 'ipv4', 'ipv6', 'duidv6')
# v1alpha1 bond field -> bond option
BOND = {
    'mode': 'mode', 'xmitHashPolicy': 'xmit_hash_policy', 'lacpRate': 'lacp_rate', 'arpValidate': 'arp_validate',
    'arpAllTargets': 'arp_all_targets', 'primary': 'primary', 'primaryReselect': 'primary_reselect',
    'failOverMac': 'fail_over_mac', 'adSelect': 'ad_select', 'miimon': 'miimon', 'updelay': 'updelay',
    'downdelay': 'downdelay', 'arpInterval': 'arp_interval', 'resendIgmp': 'resend_igmp', 'minLinks': 'min_links',
    'lpInterval': 'lp_interval', 'packetsPerSlave': 'packets_per_slave', 'numPeerNotif': 'num_peer_notif',
    'tlbDynamicLb': 'tlb_dynamic_lb', 'allSlavesActive': 'all_slaves_active', 'useCarrier': 'use_carrier',
    'adActorSysPrio': 'ad_actor_sys_prio', 'adUserPortKey': 'ad_user_port_key', 'peerNotifyDelay': 'peer_notif_delay',
    'arpIPTarget': 'arp_ip_targets',
}
BOND_EXTRA = ('interfaces', 'deviceSelectors', 'adActorSystem')


def machine_config(b, doc, where):
    """The v1alpha1 document (version: v1alpha1): its machine.network and machine.sysctls."""
    machine = doc.get('machine') or {}
    if not isinstance(machine, dict):
        check_known(machine, (), sub(where, 'machine'), 'machine')
    mw = sub(where, 'machine')
    sysctls = machine.get('sysctls') or {}
    if sysctls:
        check_known(sysctls, list(sysctls), sub(mw, 'sysctls'), 'machine.sysctls')
        fields.sysctls(b, sysctls, sub(mw, 'sysctls'))
    net = machine.get('network')
    if not net:
        return
    nw = sub(mw, 'network')
    check_known(net, NETWORK, nw, 'machine.network')
    if net.get('hostname'):
        b.hostname = {'hostname': net['hostname'], '_from': {'hostname': sub(nw, 'hostname')}}
    if net.get('nameservers'):
        b.resolver['nameservers'] = [str(x) for x in as_list(net['nameservers'], sub(nw, 'nameservers'))]
    if net.get('searchDomains'):
        b.resolver['search_domains'] = [str(x) for x in as_list(net['searchDomains'], sub(nw, 'searchDomains'))]
    if b.resolver:
        b.resolver['_from'] = {'nameservers': sub(nw, 'nameservers'), 'search_domains': sub(nw, 'searchDomains')}
    if '.' in str(net.get('hostname') or '') and not net.get('disableSearchDomain'):
        b.skip(sub(nw, 'disableSearchDomain'), "Talos adds the host name's domain to the search domains unless this is "
               "true; here only searchDomains are written (list the domain there)")
    for i, h in enumerate(as_list(net.get('extraHostEntries'), sub(nw, 'extraHostEntries'))):
        hw = item(sub(nw, 'extraHostEntries'), i)
        check_known(h, ('ip', 'aliases'), hw, 'an extraHostEntries entry')
        b.hosts.append({'ip': str(h.get('ip')), 'aliases': [str(a) for a in as_list(h.get('aliases'), sub(hw, 'aliases'))]})
    ks = net.get('kubespan')
    if ks and ks.get('enabled'):
        b.skip(sub(nw, 'kubespan'), 'KubeSpan (Talos\'s own WireGuard mesh driven by its discovery service) has no '
               'equivalent here; build the mesh with the wireguard section or the cluster role\'s mesh')
    for i, dev in enumerate(as_list(net.get('interfaces'), sub(nw, 'interfaces'))):
        device(b, dev, item(sub(nw, 'interfaces'), i))


def device(b, dev, where):
    check_known(dev, DEVICE, where, 'a machine.network.interfaces entry')
    if dev.get('ignore'):
        return   # Talos leaves an ignored interface alone; so does this
    if dev.get('deviceSelector'):
        sw = sub(where, 'deviceSelector')
        names = fields.select(b, dev['deviceSelector'], sw)
        if names is None:
            return
        if not names:
            b.skip(sw, 'matched no link on this node (%s); the whole interface entry was not applied'
                   % fields.describe(dev['deviceSelector']))
            return
    elif dev.get('interface'):
        names = [str(dev['interface'])]
    else:
        raise ValidationError('an interface entry needs interface or deviceSelector', where)
    for name in names:
        one_device(b, dev, name, where)


def addressed(b, entry, dev, where):
    """What an interface entry and a vlans entry share: up, mtu, DHCP, addresses, routes, vip."""
    fields.link_basics(b, entry, dev, where)
    dhcp(b, entry, dev, where)
    fields.addresses(b, entry['name'], dev, where)
    fields.routes(b, entry['name'], dev, where, ROUTE, 'network')
    if dev.get('vip'):
        vw = sub(where, 'vip')
        check_known(dev['vip'], VIP, vw, 'vip')
        for k in ('equinixMetal', 'hcloud'):
            if dev['vip'].get(k):
                b.skip(sub(vw, k), 'the VIP is moved through the %s API by Talos; the vips section only announces it on '
                       'the link (use the vip role\'s provider for cloud VIPs)' % k)
        if dev['vip'].get('ip'):
            fields.vip(b, dev['vip']['ip'], entry['name'], vw)


def one_device(b, dev, name, where):
    section, kind = 'links', None
    for key, sect in (('bond', 'bonds'), ('bridge', 'bridges'), ('wireguard', 'wireguard')):
        if dev.get(key):
            section = sect
            break
    else:
        kind = 'dummy' if dev.get('dummy') else None
    entry = b.link(name, section, where, kind)
    addressed(b, entry, dev, where)
    if dev.get('bond'):
        bond(b, entry, dev['bond'], sub(where, 'bond'))
    if dev.get('bridge'):
        bw = sub(where, 'bridge')
        check_known(dev['bridge'], ('interfaces', 'stp', 'vlan'), bw, 'bridge')
        fields.bridge(b, entry, dev['bridge'], bw, 'interfaces', 'vlanFiltering')
    if dev.get('bridgePort'):
        master = (dev['bridgePort'] or {}).get('master')
        if master:
            br = b.link(str(master), 'bridges', sub(where, 'bridgePort.master'))
            links = list(br.get('links') or [])
            if name not in links:
                br['links'] = links + [name]
                br['_from'].setdefault('links', sub(where, 'bridgePort.master'))
    if dev.get('wireguard'):
        ww = sub(where, 'wireguard')
        check_known(dev['wireguard'], fields.WIREGUARD, ww, 'wireguard')
        fields.wireguard(b, entry, dev['wireguard'], ww)
    for i, vl in enumerate(as_list(dev.get('vlans'), sub(where, 'vlans'))):
        vlan(b, name, vl, item(sub(where, 'vlans'), i))


def dhcp(b, entry, dev, where):
    opts = dev.get('dhcpOptions') or {}
    ow = sub(where, 'dhcpOptions')
    check_known(opts, DHCP_OPTIONS, ow, 'dhcpOptions')
    if not dev.get('dhcp'):
        return
    if opts.get('ipv4', True):
        fields.dhcp(b, entry, 'dhcp4', sub(where, 'dhcp'), opts.get('routeMetric'), sub(ow, 'routeMetric'))
    if opts.get('ipv6'):
        fields.dhcp(b, entry, 'dhcp6', sub(ow, 'ipv6'), opts.get('routeMetric'), sub(ow, 'routeMetric'))
    if opts.get('duidv6'):
        b.skip(sub(ow, 'duidv6'), 'no DHCP option of this collection takes it')


def bond(b, entry, bd, where):
    check_known(bd, list(BOND) + list(BOND_EXTRA), where, 'bond')
    ports = fields.members(bd, 'interfaces', where)
    for i, sel in enumerate(as_list(bd.get('deviceSelectors'), sub(where, 'deviceSelectors'))):
        sw = item(sub(where, 'deviceSelectors'), i)
        found = fields.select(b, sel, sw)
        if found is None:
            continue
        found = [n for n in found if n != entry['name'] and n not in ports]
        if not found:
            b.skip(sw, 'matched no link on this node (%s)' % fields.describe(sel))
        ports.extend(found)
    b.set(entry, 'links', ports, sub(where, 'interfaces'))
    fields.bond_options(b, entry, bd, where, BOND, zero_unset=True)
    if bd.get('adActorSystem'):
        b.skip(sub(where, 'adActorSystem'), 'the bond kind has no ad_actor_system option')


def vlan(b, parent, vl, where):
    check_known(vl, VLAN, where, 'a vlans entry')
    if vl.get('vlanId') in (None, ''):
        raise ValidationError('a VLAN needs its vlanId (1-4094); the link is named <interface>.<vlanId>', sub(where, 'vlanId'))
    entry = b.link('%s.%s' % (parent, vl.get('vlanId')), 'vlans', where)
    fields.vlan(b, entry, parent, where, vl, where, 'vlanId')
    addressed(b, entry, vl, where)
