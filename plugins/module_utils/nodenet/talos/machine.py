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

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos.common import (
    as_list, check_known, duration, item, sub)

NETWORK = ('hostname', 'interfaces', 'nameservers', 'searchDomains', 'extraHostEntries', 'kubespan', 'disableSearchDomain')
DEVICE = ('interface', 'deviceSelector', 'addresses', 'cidr', 'routes', 'bond', 'bridge', 'bridgePort', 'vlans', 'mtu',
          'dhcp', 'ignore', 'dummy', 'dhcpOptions', 'wireguard', 'vip')
ROUTE = ('network', 'gateway', 'source', 'metric', 'mtu')
VLAN = ('addresses', 'cidr', 'routes', 'dhcp', 'vlanId', 'mtu', 'vip', 'dhcpOptions')
VIP = ('ip', 'equinixMetal', 'hcloud')
SELECTOR = {'busPath': 'bus_path', 'hardwareAddr': 'hardware_addr', 'permanentAddr': 'permanent_addr',
            'pciID': 'pci_id', 'driver': 'driver', 'physical': 'physical'}
# The planned `selector` option of a link (and the status fields it matches against).
DHCP_OPTIONS = ('routeMetric', 'ipv4', 'ipv6', 'duidv6')
# v1alpha1 bond field -> (bond option, converter)
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
BOOL_BOND = ('tlb_dynamic_lb', 'all_slaves_active', 'use_carrier')
WIREGUARD = ('privateKey', 'listenPort', 'firewallMark', 'peers')
WG_PEER = ('publicKey', 'endpoint', 'persistentKeepaliveInterval', 'allowedIPs')


def bond_value(option, value):
    if option in BOOL_BOND:
        return bool(value)
    if option in ('arp_validate',) and isinstance(value, str):
        return value.replace('-', '_')
    return value


def machine_config(b, doc, where):
    """The v1alpha1 document (version: v1alpha1): its machine.network and machine.sysctls."""
    machine = doc.get('machine') or {}
    if not isinstance(machine, dict):
        check_known(machine, (), sub(where, 'machine'), 'machine')
    mw = sub(where, 'machine')
    sysctls = machine.get('sysctls') or {}
    if sysctls:
        check_known(sysctls, list(sysctls), sub(mw, 'sysctls'), 'machine.sysctls')
        for k, val in sysctls.items():
            b.sysctls[k] = str(val)
        b.sysctl_field = sub(mw, 'sysctls')
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
    names = []
    if dev.get('deviceSelector'):
        sel = dev['deviceSelector']
        check_known(sel, SELECTOR, sub(where, 'deviceSelector'), 'deviceSelector')
        names = b.select(sel, sub(where, 'deviceSelector'), SELECTOR)
        if names is None:
            return
        if not names and b.observed is not None:
            b.skip(sub(where, 'deviceSelector'), 'matched no link on this node (%s); the whole interface entry was '
                   'not applied' % ', '.join('%s=%s' % kv for kv in sorted(sel.items())))
            return
    elif dev.get('interface'):
        names = [str(dev['interface'])]
    else:
        from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
        raise ValidationError('an interface entry needs interface or deviceSelector', where)
    for name in names:
        one_device(b, dev, name, where)


def one_device(b, dev, name, where):
    section, kind = 'links', None
    if dev.get('bond'):
        section = 'bonds'
    elif dev.get('bridge'):
        section = 'bridges'
    elif dev.get('wireguard'):
        section = 'wireguard'
    elif dev.get('dummy'):
        kind = 'dummy'
    entry = b.link(name, section, where, kind)
    b.set(entry, 'up', True, where)
    if dev.get('mtu'):
        b.set(entry, 'mtu', dev['mtu'], sub(where, 'mtu'))
    dhcp(b, entry, dev, where)
    addrs = list(as_list(dev.get('addresses'), sub(where, 'addresses')))
    if dev.get('cidr'):
        addrs.append(dev['cidr'])
    for i, a in enumerate(addrs):
        b.address(name, a, item(sub(where, 'addresses'), i) if i < len(dev.get('addresses') or []) else sub(where, 'cidr'))
    for i, r in enumerate(as_list(dev.get('routes'), sub(where, 'routes'))):
        rw = item(sub(where, 'routes'), i)
        check_known(r, ROUTE, rw, 'a route')
        b.route(name, r, rw, dest_key='network')
    if dev.get('bond'):
        bond(b, entry, dev['bond'], sub(where, 'bond'))
    if dev.get('bridge'):
        br = dev['bridge']
        bw = sub(where, 'bridge')
        check_known(br, ('interfaces', 'stp', 'vlan'), bw, 'bridge')
        b.set(entry, 'links', [str(x) for x in as_list(br.get('interfaces'), sub(bw, 'interfaces'))], sub(bw, 'interfaces'))
        if (br.get('stp') or {}).get('enabled') is not None:
            b.set(entry, 'stp', {'enabled': bool(br['stp']['enabled'])}, sub(bw, 'stp.enabled'))
        if (br.get('vlan') or {}).get('vlanFiltering') is not None:
            b.set(entry, 'vlan_filtering', bool(br['vlan']['vlanFiltering']), sub(bw, 'vlan.vlanFiltering'))
    if dev.get('bridgePort'):
        master = (dev['bridgePort'] or {}).get('master')
        if master:
            br = b.link(str(master), 'bridges', sub(where, 'bridgePort.master'))
            links = list(br.get('links') or [])
            if name not in links:
                br['links'] = links + [name]
                br['_from'].setdefault('links', sub(where, 'bridgePort.master'))
    if dev.get('wireguard'):
        wireguard(b, entry, dev['wireguard'], sub(where, 'wireguard'))
    if dev.get('vip'):
        vip(b, name, dev['vip'], sub(where, 'vip'))
    for i, vl in enumerate(as_list(dev.get('vlans'), sub(where, 'vlans'))):
        vlan(b, name, vl, item(sub(where, 'vlans'), i))


def dhcp(b, entry, dev, where):
    opts = dev.get('dhcpOptions') or {}
    check_known(opts, DHCP_OPTIONS, sub(where, 'dhcpOptions'), 'dhcpOptions')
    if not dev.get('dhcp'):
        return
    if opts.get('ipv4', True):
        b.set(entry, 'dhcp4', True, sub(where, 'dhcp'))
    if opts.get('ipv6'):
        b.set(entry, 'dhcp6', True, sub(where, 'dhcpOptions.ipv6'))
    if opts.get('routeMetric'):
        b.set(entry, 'dhcp_options', {'route_metric': int(opts['routeMetric'])}, sub(where, 'dhcpOptions.routeMetric'))
    if opts.get('duidv6'):
        b.skip(sub(where, 'dhcpOptions.duidv6'), 'no DHCP option of this collection takes it')


def bond(b, entry, bd, where):
    check_known(bd, list(BOND) + list(BOND_EXTRA), where, 'bond')
    members = [str(x) for x in as_list(bd.get('interfaces'), sub(where, 'interfaces'))]
    for i, sel in enumerate(as_list(bd.get('deviceSelectors'), sub(where, 'deviceSelectors'))):
        sw = item(sub(where, 'deviceSelectors'), i)
        check_known(sel, SELECTOR, sw, 'deviceSelector')
        found = [n for n in b.select(sel, sw, SELECTOR) or [] if n != entry['name'] and n not in members]
        if not found and b.observed is not None and not any(u['field'] == sw for u in b.unmapped):
            b.skip(sw, 'matched no link on this node (%s)' % ', '.join('%s=%s' % kv for kv in sorted(sel.items())))
        members.extend(found)
    b.set(entry, 'links', members, sub(where, 'interfaces'))
    for k, opt in BOND.items():
        if bd.get(k) not in (None, '', 0) or (k == 'useCarrier' and bd.get(k) is not None):
            val = [str(x) for x in bd[k]] if k == 'arpIPTarget' else bond_value(opt, bd[k])
            b.set(entry, opt, val, sub(where, k))
    if bd.get('adActorSystem'):
        b.skip(sub(where, 'adActorSystem'), 'the bond kind has no ad_actor_system option')


def wireguard(b, entry, wg, where):
    check_known(wg, WIREGUARD, where, 'wireguard')
    if wg.get('privateKey'):
        b.set(entry, 'private_key', wg['privateKey'], sub(where, 'privateKey'))
    if wg.get('listenPort'):
        b.set(entry, 'listen_port', wg['listenPort'], sub(where, 'listenPort'))
    if wg.get('firewallMark'):
        b.set(entry, 'firewall_mark', wg['firewallMark'], sub(where, 'firewallMark'))
    peers = []
    for i, p in enumerate(as_list(wg.get('peers'), sub(where, 'peers'))):
        pw = item(sub(where, 'peers'), i)
        check_known(p, WG_PEER + ('presharedKey',), pw, 'a wireguard peer')
        peers.append(peer(p, pw))
    b.set(entry, 'peers', peers, sub(where, 'peers'))     # Talos declares the complete list: none means none


def peer(p, pw):
    out = {'public_key': p.get('publicKey')}
    if p.get('presharedKey'):
        out['preshared_key'] = p['presharedKey']
    if p.get('endpoint'):
        out['endpoint'] = str(p['endpoint'])
    if p.get('persistentKeepaliveInterval'):
        out['persistent_keepalive_interval'] = duration(p['persistentKeepaliveInterval'], sub(pw, 'persistentKeepaliveInterval'))
    if p.get('allowedIPs'):
        out['allowed_ips'] = [str(x) for x in p['allowedIPs']]
    return out


def vip(b, link, cfg, where):
    check_known(cfg, VIP, where, 'vip')
    for k in ('equinixMetal', 'hcloud'):
        if cfg.get(k):
            b.skip(sub(where, k), 'the VIP is moved through the %s API by Talos; the vips section only announces it on '
                   'the link (use the vip role\'s provider for cloud VIPs)' % k)
    if cfg.get('ip'):
        b.add('vips', {'address': str(cfg['ip']), 'link': link}, where)


def vlan(b, parent, vl, where):
    check_known(vl, VLAN, where, 'a vlans entry')
    if vl.get('vlanId') in (None, ''):
        from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
        raise ValidationError('a VLAN needs its vlanId (1-4094); the link is named <interface>.<vlanId>', sub(where, 'vlanId'))
    name = '%s.%s' % (parent, vl.get('vlanId'))
    entry = b.link(name, 'vlans', where)
    b.set(entry, 'parent', parent, where)
    b.set(entry, 'vlan_id', vl.get('vlanId'), sub(where, 'vlanId'))
    b.set(entry, 'up', True, where)
    if vl.get('mtu'):
        b.set(entry, 'mtu', vl['mtu'], sub(where, 'mtu'))
    dhcp(b, entry, vl, where)
    addrs = list(as_list(vl.get('addresses'), sub(where, 'addresses')))
    if vl.get('cidr'):
        addrs.append(vl['cidr'])
    for i, a in enumerate(addrs):
        b.address(name, a, item(sub(where, 'addresses'), i))
    for i, r in enumerate(as_list(vl.get('routes'), sub(where, 'routes'))):
        rw = item(sub(where, 'routes'), i)
        check_known(r, ROUTE, rw, 'a route')
        b.route(name, r, rw, dest_key='network')
    if vl.get('vip'):
        vip(b, name, vl['vip'], sub(where, 'vip'))
