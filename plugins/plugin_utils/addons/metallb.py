# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MetalLB from a short description (pure; controller side).

    plan(cluster, nodes=None, versions=None) -> {'mode', 'component', 'pools': [...], 'warnings'}

nodenet_cluster.metallb:
    mode: l2 | bgp
    pools: [{name, addresses: [CIDR or 'first-last'], auto_assign: true, avoid_buggy_ips: false}]
    interfaces: [eth0]                      # L2: announce only from these links (optional)
    bgp: {asn: 64513, peers: [{address, asn, port: 179, hold_time: 90s, multihop: false}]}

Before anything is applied every pool is checked against the node addresses (declared
networks' host addresses from `nodes`, the VIP, the mesh), the pod and service CIDRs and the
other pools; an overlap is an error naming the pool and what it overlaps.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.plugin_utils.addons.versions import pins
from ansible_collections.seed.nodenet.plugins.plugin_utils.addons.cni import _asn, _addr, with_defaults

MODES = ('l2', 'bgp')
KEYS = ('mode', 'pools', 'interfaces', 'bgp', 'node_selectors', 'values')
POOL_KEYS = ('name', 'addresses', 'auto_assign', 'avoid_buggy_ips')
PEER_KEYS = ('address', 'asn', 'port', 'hold_time', 'keepalive_time', 'multihop', 'name', 'source_address')
F = 'nodenet_cluster.metallb'


def _err(msg, field):
    return ValidationError(msg, field)


def parse_range(text, field):
    """'10.0.0.0/29' or '10.0.0.1-10.0.0.9' -> (version, first int, last int)."""
    s = str(text).strip()
    try:
        if '-' in s and '/' not in s:
            lo, hi = [ipaddress.ip_address(p.strip()) for p in s.split('-', 1)]
            if lo.version != hi.version:
                raise ValueError("both ends must be of one family")
            if int(lo) > int(hi):
                raise ValueError("the range ends before it starts")
            return lo.version, int(lo), int(hi)
        net = ipaddress.ip_network(s, strict=True)
        return net.version, int(net.network_address), int(net.broadcast_address)
    except ValueError as e:
        raise _err("%r is not a CIDR or a range 'first-last' (%s)" % (text, e), field)


def _fmt(version, lo, hi):
    cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    return str(cls(lo)) if lo == hi else '%s-%s' % (cls(lo), cls(hi))


def _occupied(cluster, nodes):
    """[(what, version, lo, hi)] every address range a pool must stay out of."""
    out = []
    for key, what in (('pod_cidrs', 'pod CIDR'), ('service_cidrs', 'service CIDR')):
        for c in cluster.get(key) or []:
            n = ipaddress.ip_network(str(c))
            out.append(('%s %s' % (what, n), n.version, int(n.network_address), int(n.broadcast_address)))
    vip = (cluster.get('vip') or {}).get('address')
    if vip:
        a = ipaddress.ip_address(str(vip))
        out.append(('the VIP %s' % a, a.version, int(a), int(a)))
    mesh = cluster.get('mesh') or {}
    if mesh.get('enabled', bool(mesh)):
        for c in mesh.get('cidrs') or []:
            n = ipaddress.ip_network(str(c))
            out.append(('mesh %s' % n, n.version, int(n.network_address), int(n.broadcast_address)))
    for net in cluster.get('networks') or []:
        for c in net.get('cidrs') or []:
            n = ipaddress.ip_network(str(c))
            if n.num_addresses > 2:
                out.append(('network address of %s' % n, n.version, int(n.network_address), int(n.network_address)))
                if n.version == 4:
                    out.append(('broadcast address of %s' % n, 4, int(n.broadcast_address), int(n.broadcast_address)))
    for node, facts in sorted((nodes or {}).items()):
        for a in (facts or {}).get('addresses') or []:
            try:
                ip = ipaddress.ip_interface(str(a.get('address'))).ip
            except ValueError:
                continue
            if ip.is_loopback or ip.is_link_local:
                continue
            out.append(('%s address %s' % (node, ip), ip.version, int(ip), int(ip)))
    return out


def check_pools(cluster, nodes=None):
    """Validated pools [{name, addresses, ranges, auto_assign, avoid_buggy_ips}] and warnings; raises on conflicts."""
    mlb = cluster.get('metallb') or {}
    pools = mlb.get('pools')
    if not pools:
        raise _err("required: at least one pool with a name and addresses (CIDRs or first-last ranges)", F + '.pools')
    occupied = _occupied(cluster, nodes)
    node_nets = [ipaddress.ip_network(str(c)) for net in cluster.get('networks') or [] for c in net.get('cidrs') or []]
    seen, out, warnings = {}, [], []
    for i, pool in enumerate(pools):
        pf = '%s.pools[%d]' % (F, i)
        if not isinstance(pool, dict):
            raise _err("a pool is a mapping with name and addresses", pf)
        for k in pool:
            if k not in POOL_KEYS:
                raise _err("unknown key %r; allowed: %s" % (k, ', '.join(POOL_KEYS)), '%s.%s' % (pf, k))
        name = pool.get('name')
        if not name or not str(name).replace('-', 'a').isalnum() or str(name) != str(name).lower():
            raise _err("a pool needs a name of lowercase letters, digits and '-', got %r" % (name,), pf + '.name')
        if name in seen:
            raise _err("pool name %r is used twice" % name, pf + '.name')
        ranges = []
        for j, text in enumerate(pool.get('addresses') or []):
            af = '%s.addresses[%d]' % (pf, j)
            version, lo, hi = parse_range(text, af)
            for what, ov, olo, ohi in occupied:
                if ov == version and lo <= ohi and olo <= hi:
                    raise _err("%s overlaps %s (%s); a LoadBalancer address given out there would collide" % (
                        text, what, _fmt(version, max(lo, olo), min(hi, ohi))), af)
            for oname, oranges in seen.items():
                for ov, olo, ohi, otext in oranges:
                    if ov == version and lo <= ohi and olo <= hi:
                        raise _err("%s overlaps pool %r (%s)" % (text, oname, otext), af)
            for ov, olo, ohi, otext in ranges:
                if ov == version and lo <= ohi and olo <= hi:
                    raise _err("%s overlaps %s of the same pool" % (text, otext), af)
            if mlb.get('mode', 'l2') == 'l2' and node_nets and not any(
                    n.version == version and int(n.network_address) <= lo and hi <= int(n.broadcast_address)
                    for n in node_nets):
                warnings.append("%s: %s is outside every node network; in L2 mode MetalLB answers ARP/NDP only on "
                                "the nodes' own segments, so a router must send that range to the nodes" % (af, text))
            ranges.append((version, lo, hi, str(text)))
        if not ranges:
            raise _err("required: addresses (CIDRs or 'first-last' ranges)", pf + '.addresses')
        seen[name] = ranges
        out.append({'name': name, 'addresses': [r[3] for r in ranges],
                    'ranges': [[r[0], r[1], r[2]] for r in ranges],
                    'auto_assign': bool(pool.get('auto_assign', True)),
                    'avoid_buggy_ips': bool(pool.get('avoid_buggy_ips', False))})
    return out, warnings


def plan(cluster, nodes=None, versions=None):
    cluster = with_defaults(cluster)
    mlb = cluster.get('metallb') or {}
    if not isinstance(mlb, dict):
        raise _err("must be a mapping with mode (l2, bgp) and pools", F)
    for k in mlb:
        if k not in KEYS:
            raise _err("unknown key %r; allowed: %s" % (k, ', '.join(KEYS)), '%s.%s' % (F, k))
    mode = mlb.get('mode', 'l2')
    if mode not in MODES:
        raise _err("must be l2 or bgp, got %r" % (mode,), F + '.mode')
    pools, warnings = check_pools(cluster, nodes)
    pin = pins(versions)
    ns = pin['metallb']['namespace']
    objects = []
    for p in pools:
        spec = {'addresses': p['addresses'], 'autoAssign': p['auto_assign']}
        if p['avoid_buggy_ips']:
            spec['avoidBuggyIPs'] = True
        objects.append({'apiVersion': 'metallb.io/v1beta1', 'kind': 'IPAddressPool',
                        'metadata': {'name': p['name'], 'namespace': ns}, 'spec': spec})
    names = [p['name'] for p in pools]
    selectors = [{'matchLabels': dict(s)} for s in mlb.get('node_selectors') or []]
    if mode == 'l2':
        spec = {'ipAddressPools': names}
        if mlb.get('interfaces'):
            spec['interfaces'] = [str(i) for i in mlb['interfaces']]
        if selectors:
            spec['nodeSelectors'] = selectors
        objects.append({'apiVersion': 'metallb.io/v1beta1', 'kind': 'L2Advertisement',
                        'metadata': {'name': 'nodenet', 'namespace': ns}, 'spec': spec})
        if mlb.get('bgp'):
            raise _err("bgp settings are for mode: bgp", F + '.bgp')
    else:
        bgp = mlb.get('bgp') or {}
        my_asn = _asn(bgp.get('asn'), F + '.bgp.asn')
        peers = bgp.get('peers') or []
        if not peers:
            raise _err("mode bgp needs at least one peer with an address and an asn", F + '.bgp.peers')
        for i, peer in enumerate(peers):
            pf = '%s.bgp.peers[%d]' % (F, i)
            for k in peer:
                if k not in PEER_KEYS:
                    raise _err("unknown key %r; allowed: %s" % (k, ', '.join(PEER_KEYS)), '%s.%s' % (pf, k))
            addr = _addr(peer.get('address'), pf + '.address')
            spec = {'myASN': my_asn, 'peerASN': _asn(peer.get('asn'), pf + '.asn'), 'peerAddress': str(addr)}
            if peer.get('port') is not None:
                spec['peerPort'] = int(peer['port'])
            for key, crd in (('hold_time', 'holdTime'), ('keepalive_time', 'keepaliveTime')):
                if peer.get(key) is not None:
                    spec[crd] = str(peer[key])
            if peer.get('multihop'):
                spec['ebgpMultiHop'] = True
            if peer.get('source_address'):
                spec['sourceAddress'] = str(_addr(peer['source_address'], pf + '.source_address'))
            if selectors:
                spec['nodeSelectors'] = selectors
            name = peer.get('name') or 'peer-%s' % str(addr).replace(':', '-').replace('.', '-')
            objects.append({'apiVersion': 'metallb.io/v1beta2', 'kind': 'BGPPeer',
                            'metadata': {'name': name, 'namespace': ns}, 'spec': spec})
        objects.append({'apiVersion': 'metallb.io/v1beta1', 'kind': 'BGPAdvertisement',
                        'metadata': {'name': 'nodenet', 'namespace': ns}, 'spec': {'ipAddressPools': names}})
    p = pin['metallb']
    component = {'name': 'metallb', 'version': p['version'], 'namespace': ns, 'chart': p.get('chart'),
                 'manifests': list(p.get('manifests') or []), 'values': dict(mlb.get('values') or {}),
                 'objects': objects, 'patches': [], 'pods': p['pods']}
    return {'mode': mode, 'pools': pools, 'component': component, 'warnings': warnings}


def strict_arp(configmap):
    """kube-proxy's ConfigMap (as k8s_info returns it) -> what MetalLB's L2 mode needs of it.

    {'mode': 'ipvs'|'iptables'|'nftables'|..., 'needed': bool, 'patched': ConfigMap or None}.
    In IPVS mode kube-proxy answers ARP for every LoadBalancer address on kube-ipvs0 unless
    ipvs.strictARP is true; MetalLB's L2 announcements then race with it.
    """
    import yaml    # PyYAML ships with ansible-core
    if not configmap:
        return {'mode': None, 'needed': False, 'patched': None}
    data = (configmap.get('data') or {})
    key = 'config.conf' if 'config.conf' in data else None
    if key is None:
        return {'mode': None, 'needed': False, 'patched': None}
    conf = yaml.safe_load(data[key]) or {}
    mode = conf.get('mode') or 'iptables'
    ipvs = conf.get('ipvs') or {}
    if mode != 'ipvs' or ipvs.get('strictARP') is True:
        return {'mode': mode, 'needed': False, 'patched': None}
    conf['ipvs'] = dict(ipvs, strictARP=True)
    patched = {'apiVersion': 'v1', 'kind': 'ConfigMap',
               'metadata': {'name': configmap['metadata']['name'], 'namespace': configmap['metadata']['namespace']},
               'data': dict(data)}
    patched['data'][key] = yaml.safe_dump(conf, default_flow_style=False, sort_keys=False)
    return {'mode': mode, 'needed': True, 'patched': patched}
