# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_info's status records -> Talos multi-document network config (export: talos).

Pure. What is exported is what importer.translate reads back to the same state, so exporting a
node and applying the result plans nothing. What Talos documents can't say (a rule for one family
only, a route with several next hops, an address from DHCP, WireGuard private keys, ...) is left
out and listed in `notes` by name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos.common import DEFAULT_ROUTE_METRIC

API = 'v1alpha1'
OWN_ROUTE_PROTOCOLS = ('unspec', 'boot', 'static')
KERNEL_ROUTE_PROTOCOLS = ('kernel', 'ra')
DEFAULT_RULES = ((0, 255), (32766, 254), (32767, 253))
RESERVED_RULE_PRIORITIES = (0, 32500, 32501, 32766, 32767)
# bond status field -> BondConfig field
BOND = (
    ('mode', 'bondMode'), ('miimon', 'miimon'), ('updelay', 'updelay'), ('downdelay', 'downdelay'),
    ('use_carrier', 'useCarrier'), ('xmit_hash_policy', 'xmitHashPolicy'), ('arp_interval', 'arpInterval'),
    ('arp_ip_targets', 'arpIpTargets'), ('ns_ip6_targets', 'nsIp6Targets'), ('arp_validate', 'arpValidate'),
    ('arp_all_targets', 'arpAllTargets'), ('lacp_rate', 'lacpRate'), ('fail_over_mac', 'failOverMac'),
    ('ad_select', 'adSelect'), ('ad_actor_sys_prio', 'adActorSysPrio'), ('ad_user_port_key', 'adUserPortKey'),
    ('ad_lacp_active', 'adLACPActive'), ('primary', 'primary'), ('primary_reselect', 'primaryReselect'),
    ('resend_igmp', 'resendIGMP'), ('min_links', 'minLinks'), ('lp_interval', 'lpInterval'),
    ('packets_per_slave', 'packetsPerSlave'), ('num_peer_notif', 'numPeerNotif'), ('tlb_dynamic_lb', 'tlbLogicalLb'),
    ('all_slaves_active', 'allSlavesActive'), ('peer_notif_delay', 'peerNotifDelay'), ('missed_max', 'missedMax'),
)


def doc(kind, name=None, **fields):
    out = {'apiVersion': API, 'kind': kind}
    if name is not None:
        out['name'] = name
    out.update((k, val) for k, val in fields.items() if val is not None)
    return out


def _bond_fields(rec):
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import bond
    out = {}
    for opt, field in BOND:
        val = rec.get(opt)
        if val is None or val == [] or (opt != 'mode' and not bond.fits(opt, rec.get('mode'))):
            continue
        if opt == 'ad_lacp_active':
            val = 'on' if val else 'off'
        elif opt in ('tlb_dynamic_lb', 'all_slaves_active'):
            val = 1 if val else 0
        elif opt == 'arp_validate':
            val = str(val).replace('_', '-')
        out[field] = val
    return out


def link_docs(facts, notes, addresses, routes):
    docs = []
    wg = dict((w['name'], w) for w in facts.get('wireguard') or [])
    links = [rec for rec in facts.get('links') or [] if rec.get('type') != 'loopback']
    rank = {'bond': 1, 'vlan': 2, 'bridge': 3, 'wireguard': 3}
    by_name = dict((r['name'], r) for r in links)
    skip = set()
    for rec in sorted(links, key=lambda r: (rank.get(r.get('kind'), 0), r['index'])):
        name, kind = rec['name'], rec.get('kind')
        common = {'up': bool(rec.get('up')), 'mtu': rec.get('mtu'),
                  'addresses': addresses.get(name) or None, 'routes': routes.get(name) or None}
        if name in skip:
            continue
        if kind == 'veth' and rec.get('peer') and rec['peer'] in by_name:
            peer = by_name[rec['peer']]
            skip.add(peer['name'])
            pcommon = {'up': bool(peer.get('up')), 'mtu': peer.get('mtu'), 'addresses': addresses.get(peer['name']) or None,
                       'routes': routes.get(peer['name']) or None}
            d = doc('VethConfig', name, peer=dict([('name', peer['name'])] + [kv for kv in pcommon.items() if kv[1] is not None]))
        elif kind == 'dummy':
            d = doc('DummyLinkConfig', name, hardwareAddr=rec.get('hardware_addr'))
        elif kind == 'bond':
            d = doc('BondConfig', name, links=list(rec.get('ports') or []), **_bond_fields(rec))
        elif kind == 'vlan':
            if not rec.get('parent'):
                notes.append({'field': 'links.%s' % name, 'reason': 'a VLAN whose parent is in another namespace'})
                continue
            d = doc('VLANConfig', name, vlanID=rec.get('vlan_id'), vlanMode=rec.get('protocol'), parent=rec['parent'])
        elif kind == 'bridge':
            d = doc('BridgeConfig', name, links=list(rec.get('ports') or []))
            if rec.get('stp') is not None:
                d['stp'] = {'enabled': bool(rec['stp'])}
            if rec.get('vlan_filtering') is not None:
                d['vlan'] = {'filtering': bool(rec['vlan_filtering'])}
        elif kind == 'wireguard':
            w = wg.get(name)
            if w is None:
                notes.append({'field': 'links.%s' % name, 'reason': 'WireGuard details were not gathered (gather wireguard)'})
                d = doc('LinkConfig', name)
            else:
                d = doc('WireguardConfig', name, listenPort=w.get('listen_port') or None,
                        firewallMark=w.get('firewall_mark') or None, peers=[_peer(p, name, notes) for p in w.get('peers') or []])
                notes.append({'field': 'links.%s.privateKey' % name,
                              'reason': 'private keys never leave the node; add privateKey (or keep the key file) before applying elsewhere'})
        else:
            d = doc('LinkConfig', name)
            if kind is not None:
                notes.append({'field': 'links.%s' % name, 'reason': 'a %s link is exported as a LinkConfig (its up, MTU, '
                              'addresses and routes); Talos has no document that creates it' % kind})
        d.update((k, val) for k, val in common.items() if val is not None)
        docs.append(d)
    return docs


def _peer(p, link, notes):
    out = {'publicKey': p['public_key']}
    if p.get('preshared_key'):
        notes.append({'field': 'links.%s.peers.%s.presharedKey' % (link, p['public_key']),
                      'reason': 'preshared keys never leave the node'})
    if p.get('endpoint'):
        out['endpoint'] = p['endpoint']
    if p.get('persistent_keepalive_interval'):
        out['persistentKeepaliveInterval'] = '%ds' % p['persistent_keepalive_interval']
    if p.get('allowed_ips'):
        out['allowedIPs'] = list(p['allowed_ips'])
    return out


def address_map(facts, notes):
    vips = set((x['address'], x.get('link')) for x in facts.get('vips') or [] if x.get('managed_by') == 'nodenet')
    out = {}
    for a in facts.get('addresses') or []:
        ip = ipaddress.ip_interface(a['address']).ip
        if a.get('link') == 'lo' or ip.is_loopback or a.get('scope') in ('link', 'host') or (a['address'], a['link']) in vips:
            continue
        if 'permanent' not in (a.get('flags') or []):
            notes.append({'field': 'addresses.%s' % a['address'], 'reason': 'a dynamic address (DHCP or SLAAC) on %s' % a['link']})
            continue
        out.setdefault(a['link'], []).append({'address': a['address']})
    return out


def route_map(facts, notes):
    out = {}
    blackholes = []
    for r in facts.get('routes') or []:
        where = 'routes.%s table %s metric %s' % (r['destination'], r['table'], r['metric'])
        if r.get('protocol') in KERNEL_ROUTE_PROTOCOLS or r.get('table') == 255:
            continue
        if r.get('protocol') not in OWN_ROUTE_PROTOCOLS:
            notes.append({'field': where, 'reason': 'made by %s, which manages it' % r.get('protocol')})
            continue
        if r.get('multipath') or r.get('nexthops'):
            notes.append({'field': where, 'reason': 'a route with several next hops'})
            continue
        if r.get('type') == 'blackhole' and r.get('table') == 254:
            blackholes.append(doc('BlackholeRouteConfig', r['destination'], metric=r['metric']))
            continue
        if r.get('type') != 'unicast' or not r.get('link'):
            notes.append({'field': where, 'reason': 'a %s route%s' % (r.get('type'), '' if r.get('link') else ' without a link')})
            continue
        one = {'destination': r['destination']}
        for k in ('gateway', 'source'):
            if r.get(k):
                one[k] = r[k]
        # metric: always written; 0 (which Talos would read as its default, 1024) is kept as 0 by the importer
        one['metric'] = r['metric'] if r['metric'] is not None else DEFAULT_ROUTE_METRIC
        if r.get('mtu'):
            one['mtu'] = r['mtu']
        if r.get('table') not in (None, 254):
            one['table'] = str(r['table'])
        out.setdefault(r['link'], []).append(one)
    return out, blackholes


def rule_docs(facts, notes):
    rules = [r for r in facts.get('rules') or [] if (r.get('priority'), r.get('table')) not in DEFAULT_RULES]
    fields = ('src', 'dst', 'table', 'action', 'iif_name', 'oif_name', 'fw_mark', 'fw_mask')
    seen = {}
    for r in rules:
        seen.setdefault((r.get('priority'),) + tuple(r.get(k) for k in fields), set()).add(r['family'])
    docs = []
    done = set()
    for r in rules:
        k = (r.get('priority'),) + tuple(r.get(f) for f in fields)
        if k in done:
            continue
        done.add(k)
        where = 'rules.%s priority %s' % (r['family'], r.get('priority'))
        if r.get('priority') is None or r['priority'] in RESERVED_RULE_PRIORITIES or r['priority'] > 32765:
            notes.append({'field': where, 'reason': 'Talos takes rule priorities 1-32765 except 32500 and 32501'})
            continue
        if r.get('action') not in (None, 'unicast', 'blackhole', 'unreachable', 'prohibit'):
            notes.append({'field': where, 'reason': 'a %s rule' % r.get('action')})
            continue
        if not r.get('src') and not r.get('dst') and seen[k] != set(['inet4', 'inet6']):
            notes.append({'field': where, 'reason': 'a rule with neither src nor dst for one family only (Talos makes it for both)'})
            continue
        d = doc('RoutingRuleConfig', str(r['priority']), src=r.get('src'), dst=r.get('dst'),
                table=str(r['table']) if r.get('table') is not None else None, action=r.get('action') or 'unicast',
                iifName=r.get('iif_name'), oifName=r.get('oif_name'), fwMark=r.get('fw_mark') or None,
                fwMask=r.get('fw_mask') or None)
        docs.append(d)
    return docs


def firewall_docs(fw, notes):
    if not fw or not fw.get('present'):
        return []
    docs = [doc('NetworkDefaultActionConfig', ingress=fw.get('default_action') or 'accept')]
    for r in fw.get('rules') or []:
        ingress = []
        ok = True
        for ing in r.get('ingress') or []:
            exc = ing.get('except') or []
            exc = [exc] if isinstance(exc, str) else list(exc)
            if len(exc) > 1:
                notes.append({'field': 'firewall.rules.%s' % r['name'],
                              'reason': 'an ingress subnet with several exceptions (Talos takes one per subnet)'})
                ok = False
            one = {'subnet': ing['subnet']}
            if exc:
                one['except'] = exc[0]
            ingress.append(one)
        if ok:
            sel = {'protocol': r['port_selector']['protocol']}
            if r['port_selector'].get('ports'):
                sel['ports'] = list(r['port_selector']['ports'])
            docs.append(doc('NetworkRuleConfig', r['name'], portSelector=sel, ingress=ingress))
    return docs


def export(facts):
    """Status facts (network_info's) -> ([Talos documents], [{field, reason}] not exported)."""
    notes = []
    addresses = address_map(facts, notes)
    routes, blackholes = route_map(facts, notes)
    docs = link_docs(facts, notes, addresses, routes)
    exported = set(d['name'] for d in docs) | set(d['peer']['name'] for d in docs if d['kind'] == 'VethConfig')
    for link in sorted(set(addresses) | set(routes)):
        if link not in exported:
            notes.append({'field': 'links.%s' % link, 'reason': 'its addresses and routes were gathered but not the link'})
    for x in facts.get('vips') or []:
        if x.get('managed_by') == 'nodenet':
            docs.append(doc('Layer2VIPConfig', str(ipaddress.ip_interface(x['address']).ip), link=x['link']))
    docs.extend(rule_docs(facts, notes))
    docs.extend(blackholes)
    res = facts.get('resolvers')
    if res and res.get('nameservers'):
        d = doc('ResolverConfig', nameservers=[{'address': a} for a in res['nameservers']])
        if res.get('search_domains'):
            d['searchDomains'] = {'domains': list(res['search_domains'])}
        if res.get('options'):
            notes.append({'field': 'resolvers.options', 'reason': 'resolv.conf options have no ResolverConfig field'})
        docs.append(d)
    for h in (facts.get('hosts') or {}).get('entries') or []:     # the managed block of /etc/hosts
        docs.append(doc('StaticHostConfig', h['ip'], hostnames=list(h['aliases'])))
    host = facts.get('hostname')
    if host and host.get('hostname'):
        docs.append(doc('HostnameConfig', hostname=host.get('fqdn') or host['hostname']))
    docs.extend(firewall_docs(facts.get('firewall'), notes))
    return docs, notes


def dump(docs):
    """Multi-document YAML (JSON documents, which are YAML too, where PyYAML is missing)."""
    try:
        import yaml
    except ImportError:
        return ''.join('---\n%s\n' % json.dumps(d, indent=2) for d in docs)
    return yaml.safe_dump_all(docs, default_flow_style=False, sort_keys=False, explicit_start=True)
