# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CNI values derived from the node network and the cluster description (pure; controller side).

    plan(cluster, nodes=None, versions=None) -> {
        'plugin', 'mode', 'encryption', 'underlay', 'mtu', 'mtu_limit', 'mtu_setting', 'mtu_path', 'overhead',
        'pod_cidrs': {'ipv4': ..., 'ipv6': ...}, 'components': [component, ...], 'warnings': [...]}

A component is what one add-on needs, in the form both the install and render_only paths use:
{'name', 'namespace', 'chart': {repo, name, version} | None, 'values': {...} (Helm values),
'manifests': [url, ...], 'objects': [Kubernetes object, ...] (ours, applied after the add-on),
'patches': [object, ...] (merged into the upstream manifests' objects of the same kind/namespace/name), 'pods': {...}}.

The MTU: the smallest MTU of the node networks pods use (the declared `mtu` of each network,
and, from `nodes`, the MTU of every node link holding an address in those networks) minus the
encapsulation of the mode: the bytes the overlay adds to each packet. That is `mtu_limit`, the
most a pod may send. `mtu_setting` is what goes into the CNI's own option (see setting()) and
`mtu` the pod MTU the CNI then uses (never above `mtu_limit`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.plugin_utils.addons.versions import pins

PLUGINS = ('cilium', 'calico', 'flannel', 'none')
# mode -> what it is; the first mode is the plugin's default.
MODES = {
    'cilium': ('vxlan', 'geneve', 'native'),
    'calico': ('ipip', 'vxlan', 'bgp'),          # bgp: no encapsulation, routes via BGP
    'flannel': ('vxlan', 'host-gw', 'wireguard'),
    'none': ('none',),
}
ENCRYPTION = {'cilium': ('none', 'wireguard'), 'calico': ('none', 'wireguard'), 'flannel': ('none',), 'none': ('none',)}
IP_HEADER = {'ipv4': 20, 'ipv6': 40}
UDP = 8
ETHERNET = 14
# Bytes each encapsulation adds on top of the outer IP header.
#   VXLAN and Geneve: outer UDP + 8-byte header + the inner Ethernet frame's header (Geneve
#   without options, as Cilium sends it). WireGuard: UDP + 32 (type/receiver/counter 16 +
#   Poly1305 tag 16). IP-in-IP: only the outer IP header (IPv4 underlay only).
ENCAP = {'vxlan': UDP + 8 + ETHERNET, 'geneve': UDP + 8 + ETHERNET, 'wireguard': UDP + 32, 'ipip': 0}
TUNNEL_PORT = {('cilium', 'vxlan'): 8472, ('cilium', 'geneve'): 6081, ('calico', 'vxlan'): 4789,
               ('flannel', 'vxlan'): 8472}
WIREGUARD_PORT = {'cilium': [51871], 'calico': [51820, 51821], 'flannel': [51820, 51821]}
# What each CNI subtracts by itself from the MTU it is given (Cilium's `MTU` and Flannel's backend
# `MTU` are the underlying network's MTU; Calico's `mtu` is the pod MTU itself). Cilium: tunnel
# 50, WireGuard 80 (its pkg/mtu); Flannel v0.28: vxlan 50, wireguard 80 (pkg/backend/*).
OWN_OVERHEAD = {'cilium': {'vxlan': 50, 'geneve': 50, 'native': 0, 'wireguard': 80},
                'flannel': {'vxlan': 50, 'wireguard': 80, 'host-gw': 0}}
KEYS = ('plugin', 'mode', 'multus', 'encryption', 'kube_proxy_replacement', 'mtu', 'underlay', 'networks',
        'bgp', 'api_server', 'values')


def _err(msg, field):
    return ValidationError(msg, field)


def with_defaults(cluster):
    """nodenet_cluster with the defaults of the one place that keeps them (plugin_utils/cluster.py's
    config(), from the cluster_network role) when that is installed; as given otherwise."""
    try:
        from ansible_collections.seed.nodenet.plugins.plugin_utils.cluster import config
    except ImportError:
        return cluster or {}
    return config(cluster or {})


def _nets(values, field):
    out = []
    for i, c in enumerate(values or []):
        try:
            out.append(ipaddress.ip_network(str(c), strict=True))
        except ValueError as e:
            raise _err("%r is not a network in CIDR form (%s)" % (c, e), '%s[%d]' % (field, i))
    return out


def pod_cidrs(cluster):
    """{'ipv4': net|None, 'ipv6': net|None} from cluster.pod_cidrs (one per family at most)."""
    nets = _nets(cluster.get('pod_cidrs'), 'nodenet_cluster.pod_cidrs')
    if not nets:
        raise _err("required: one IPv4 and/or one IPv6 CIDR for pods, e.g. [10.244.0.0/16, 'fd00:10:244::/56']",
                   'nodenet_cluster.pod_cidrs')
    out = {'ipv4': None, 'ipv6': None}
    for i, n in enumerate(nets):
        fam = 'ipv%d' % n.version
        if out[fam] is not None:
            raise _err("two %s pod CIDRs (%s, %s); CNIs take one per family" % (fam, out[fam], n),
                       'nodenet_cluster.pod_cidrs[%d]' % i)
        out[fam] = n
    return out


def _path_networks(cluster, cni):
    networks = cluster.get('networks') or []
    names = cni.get('networks')
    if names is None:
        return networks
    known = dict((n.get('name'), n) for n in networks)
    for i, name in enumerate(names):
        if name not in known:
            raise _err("no network named %r in nodenet_cluster.networks (have: %s)" % (name, ', '.join(sorted(known)) or 'none'),
                       'nodenet_cluster.cni.networks[%d]' % i)
    return [known[n] for n in names]


def path_mtu(cluster, nodes=None, cni=None):
    """(smallest MTU on the pod path, [where each candidate came from]) or (None, [])."""
    cni = cni if cni is not None else (cluster.get('cni') or {})
    candidates = []
    nets = []
    for net in _path_networks(cluster, cni):
        name = net.get('name', '?')
        if net.get('mtu') is not None:
            candidates.append((int(net['mtu']), 'network %s' % name))
        nets.extend(_nets(net.get('cidrs'), 'nodenet_cluster.networks[%s].cidrs' % name))
    for node, facts in sorted((nodes or {}).items()):
        facts = facts or {}
        mtus = dict((l.get('name'), l.get('mtu')) for l in facts.get('links') or [])
        for a in facts.get('addresses') or []:
            try:
                addr = ipaddress.ip_interface(str(a.get('address'))).ip
            except ValueError:
                continue
            if any(addr in n for n in nets) and mtus.get(a.get('link')):
                candidates.append((int(mtus[a['link']]), '%s %s' % (node, a['link'])))
    if not candidates:
        return None, []
    low = min(m for m, dummy in candidates)
    return low, sorted(set(w for m, w in candidates if m == low))


def underlay_family(cluster, cni):
    fam = cni.get('underlay')
    if fam is not None:
        if fam not in IP_HEADER:
            raise _err("must be ipv4 or ipv6, got %r" % (fam,), 'nodenet_cluster.cni.underlay')
        return fam
    versions = set()
    for net in _path_networks(cluster, cni):
        versions.update(n.version for n in _nets(net.get('cidrs'), 'nodenet_cluster.networks[%s].cidrs' % net.get('name')))
    return 'ipv4' if 4 in versions or not versions else 'ipv6'


def overhead(plugin, mode, encryption, underlay):
    """Bytes per packet the plugin adds in this mode: (total, [(what, bytes), ...])."""
    ip = IP_HEADER[underlay]
    parts = []
    if mode in ('vxlan', 'geneve'):
        parts.append((mode, ip + ENCAP[mode]))
    elif mode == 'ipip':
        parts.append(('ipip', ip))
    elif mode == 'wireguard':                   # flannel's wireguard backend
        parts.append(('wireguard', ip + ENCAP['wireguard']))
    if encryption == 'wireguard':
        wg = ('wireguard', ip + ENCAP['wireguard'])
        if plugin == 'cilium':
            parts.append(wg)                    # Cilium encrypts the tunnel packet: both add up
        else:
            # Calico sends pod traffic between WireGuard nodes over the WireGuard link instead of
            # IP-in-IP/VXLAN, so only the larger of the two applies.
            parts = [max(parts + [wg], key=lambda p: p[1])]
    return sum(b for dummy, b in parts), parts


def setting(plugin, mode, encryption, path, pod):
    """(value for the CNI's own MTU option, the pod MTU the CNI then gives pods), or (None, None).

    The CNI gets min(path MTU, pod MTU + what it subtracts itself), so its own subtraction never
    leaves pods more than the path allows; where it subtracts more than needed (Flannel's 80 for
    WireGuard over IPv4, where 60 would do) the pods get its smaller MTU.
    """
    if pod is None:
        return None, None
    if plugin in ('calico', 'none'):
        return pod, pod
    own = OWN_OVERHEAD[plugin].get(mode, 0)
    if encryption == 'wireguard':
        own += OWN_OVERHEAD[plugin]['wireguard']
    value = pod + own if path is None else min(path, pod + own)
    return value, value - own


def _cni(cluster):
    cni = cluster.get('cni') or {}
    if not isinstance(cni, dict):
        raise _err("must be a mapping with plugin (%s), mode, multus, ..." % ', '.join(PLUGINS), 'nodenet_cluster.cni')
    for k in cni:
        if k not in KEYS:
            raise _err("unknown key %r; allowed: %s" % (k, ', '.join(KEYS)), 'nodenet_cluster.cni.%s' % k)
    plugin = cni.get('plugin', 'none')
    if plugin not in PLUGINS:
        raise _err("must be one of %s, got %r" % (', '.join(PLUGINS), plugin), 'nodenet_cluster.cni.plugin')
    mode = cni.get('mode') or MODES[plugin][0]
    if mode not in MODES[plugin]:
        raise _err("%s supports modes %s, got %r" % (plugin, ', '.join(MODES[plugin]), mode), 'nodenet_cluster.cni.mode')
    enc = cni.get('encryption') or 'none'
    if enc not in ENCRYPTION[plugin]:
        raise _err("%s supports encryption %s, got %r%s" % (
            plugin, ', '.join(ENCRYPTION[plugin]), enc,
            " (flannel encrypts with mode: wireguard)" if plugin == 'flannel' else ''), 'nodenet_cluster.cni.encryption')
    if cni.get('kube_proxy_replacement') and plugin != 'cilium':
        raise _err("only cilium replaces kube-proxy", 'nodenet_cluster.cni.kube_proxy_replacement')
    if cni.get('bgp') and plugin != 'calico':
        raise _err("BGP peers are taken by calico only", 'nodenet_cluster.cni.bgp')
    return cni, plugin, mode, enc


def plan(cluster, nodes=None, versions=None):
    """Everything the cni role installs or renders, computed once. Raises ValidationError."""
    cluster = with_defaults(cluster)
    cni, plugin, mode, enc = _cni(cluster)
    pods = pod_cidrs(cluster) if plugin != 'none' else {'ipv4': None, 'ipv6': None}
    underlay = underlay_family(cluster, cni)
    if mode == 'ipip' and underlay == 'ipv6':
        raise _err("IP-in-IP carries IPv4 only: use mode vxlan (or bgp) on an IPv6 node network",
                   'nodenet_cluster.cni.mode')
    low, where = path_mtu(cluster, nodes, cni)
    extra, parts = overhead(plugin, mode, enc, underlay)
    warnings = []
    if cni.get('mtu') is not None:
        mtu = int(cni['mtu'])
        if low is not None and mtu > low - extra:
            raise _err("%d is more than the pod path allows: %d (%s) - %d (%s) = %d" % (
                mtu, low, ', '.join(where), extra, ' + '.join('%s %d' % p for p in parts) or 'no encapsulation',
                low - extra), 'nodenet_cluster.cni.mtu')
    elif low is None:
        mtu = None
        if plugin != 'none':
            warnings.append("no network MTU is known (nodenet_cluster.networks[].mtu or node facts): "
                            "%s picks its own MTU" % plugin)
    else:
        mtu = low - extra
    if mtu is not None and mtu < 1280 and pods['ipv6'] is not None:
        raise _err("pod MTU %d is below IPv6's minimum 1280 (node network %d - %d); raise the node network MTU"
                   % (mtu, low, extra), 'nodenet_cluster.cni.mtu')
    value, effective = setting(plugin, mode, enc, low, mtu)
    pin = pins(versions)
    ctx = {'cluster': cluster, 'cni': cni, 'plugin': plugin, 'mode': mode, 'encryption': enc, 'underlay': underlay,
           'mtu': value, 'pods': pods, 'pins': pin}
    components = []
    if plugin != 'none':
        components.append(BUILDERS[plugin](ctx))
    if cni.get('multus'):
        components.append(_component(pin, 'multus'))
    return {'plugin': plugin, 'mode': mode, 'encryption': enc, 'underlay': underlay, 'mtu': effective,
            'mtu_limit': mtu, 'mtu_setting': value, 'mtu_path': {'mtu': low, 'from': where}, 'overhead': {'bytes': extra, 'parts': [list(p) for p in parts]},
            'pod_cidrs': dict((k, str(v) if v else None) for k, v in pods.items()),
            'components': components, 'warnings': warnings}


def _component(pin, name, values=None, objects=None, patches=None):
    p = pin[name]
    return {'name': name, 'version': p['version'], 'namespace': p['namespace'], 'chart': p.get('chart'),
            'manifests': list(p.get('manifests') or []), 'values': values or {}, 'objects': objects or [],
            'patches': patches or [], 'pods': p['pods']}


def _merge(base, extra):
    out = dict(base)
    for k, val in (extra or {}).items():
        out[k] = _merge(out[k], val) if isinstance(val, dict) and isinstance(out.get(k), dict) else val
    return out


def _api_server(ctx):
    """(host, port) Cilium's kube-proxy replacement talks to: cni.api_server, else the VIP."""
    api = ctx['cni'].get('api_server') or {}
    host = api.get('host') or (ctx['cluster'].get('vip') or {}).get('address')
    if not host:
        raise _err("kube_proxy_replacement needs the API server's address: set nodenet_cluster.cni.api_server.host "
                   "(or nodenet_cluster.vip.address)", 'nodenet_cluster.cni.api_server.host')
    return str(host), int(api.get('port', 6443))


def cilium(ctx):
    pods, mode = ctx['pods'], ctx['mode']
    v = {
        'ipv4': {'enabled': pods['ipv4'] is not None},
        'ipv6': {'enabled': pods['ipv6'] is not None},
        'ipam': {'mode': 'cluster-pool', 'operator': {}},
        'routingMode': 'native' if mode == 'native' else 'tunnel',
        'kubeProxyReplacement': bool(ctx['cni'].get('kube_proxy_replacement')),
    }
    if pods['ipv4'] is not None:
        v['ipam']['operator']['clusterPoolIPv4PodCIDRList'] = [str(pods['ipv4'])]
        v['ipam']['operator']['clusterPoolIPv4MaskSize'] = max(pods['ipv4'].prefixlen, 24)
    if pods['ipv6'] is not None:
        v['ipam']['operator']['clusterPoolIPv6PodCIDRList'] = [str(pods['ipv6'])]
        v['ipam']['operator']['clusterPoolIPv6MaskSize'] = max(pods['ipv6'].prefixlen, 64)
    if mode == 'native':
        # Every node on one L2 segment: Cilium installs the routes to the other nodes' pod CIDRs.
        v['autoDirectNodeRoutes'] = True
        if pods['ipv4'] is not None:
            v['ipv4NativeRoutingCIDR'] = str(pods['ipv4'])
        if pods['ipv6'] is not None:
            v['ipv6NativeRoutingCIDR'] = str(pods['ipv6'])
    else:
        v['tunnelProtocol'] = mode
        v['tunnelPort'] = TUNNEL_PORT[('cilium', mode)]
        v['underlayProtocol'] = ctx['underlay']
    if ctx['mtu'] is not None:
        v['MTU'] = ctx['mtu']
    if ctx['encryption'] == 'wireguard':
        v['encryption'] = {'enabled': True, 'type': 'wireguard'}
    if v['kubeProxyReplacement']:
        v['k8sServiceHost'], v['k8sServicePort'] = _api_server(ctx)
    return _component(ctx['pins'], 'cilium', values=_merge(v, ctx['cni'].get('values')))


def calico(ctx):
    pods, mode, cluster = ctx['pods'], ctx['mode'], ctx['cluster']
    pools = []
    for fam, block in (('ipv4', 26), ('ipv6', 122)):
        if pods[fam] is None:
            continue
        encap = {'ipip': 'IPIP', 'vxlan': 'VXLAN', 'bgp': 'None'}[mode]
        if fam == 'ipv6' and encap == 'IPIP':
            encap = 'VXLAN'     # IP-in-IP is IPv4's; IPv6 pods cross nodes in VXLAN
        pools.append({'name': 'default-%s-ippool' % fam, 'cidr': str(pods[fam]), 'encapsulation': encap,
                      'natOutgoing': 'Enabled', 'blockSize': max(block, pods[fam].prefixlen), 'nodeSelector': 'all()'})
    network = {'ipPools': pools, 'bgp': 'Enabled' if mode in ('ipip', 'bgp') or ctx['cni'].get('bgp') else 'Disabled'}
    if ctx['mtu'] is not None:
        network['mtu'] = ctx['mtu']
    node_cidrs = []
    for net in _path_networks(cluster, ctx['cni']):
        node_cidrs.extend(_nets(net.get('cidrs'), 'nodenet_cluster.networks'))
    v4 = [str(n) for n in node_cidrs if n.version == 4]
    v6 = [str(n) for n in node_cidrs if n.version == 6]
    if v4 and pods['ipv4'] is not None:
        network['nodeAddressAutodetectionV4'] = {'cidrs': v4}
    if v6 and pods['ipv6'] is not None:
        network['nodeAddressAutodetectionV6'] = {'cidrs': v6}
    installation = {'apiVersion': 'operator.tigera.io/v1', 'kind': 'Installation', 'metadata': {'name': 'default'},
                    'spec': _merge({'calicoNetwork': network}, ctx['cni'].get('values'))}
    objects = [installation,
               {'apiVersion': 'operator.tigera.io/v1', 'kind': 'APIServer', 'metadata': {'name': 'default'}, 'spec': {}}]
    felix = {}
    if ctx['encryption'] == 'wireguard':
        felix['wireguardEnabled'] = pods['ipv4'] is not None
        felix['wireguardEnabledV6'] = pods['ipv6'] is not None
    if felix:
        objects.append({'apiVersion': 'projectcalico.org/v3', 'kind': 'FelixConfiguration',
                        'metadata': {'name': 'default'}, 'spec': felix})
    bgp = ctx['cni'].get('bgp') or {}
    if bgp:
        objects.extend(_calico_bgp(bgp))
    return _component(ctx['pins'], 'calico', values={'installation': {'enabled': False}, 'apiServer': {'enabled': False}},
                      objects=objects)


def _calico_bgp(bgp):
    field = 'nodenet_cluster.cni.bgp'
    asn = _asn(bgp.get('asn', 64512), field + '.asn')
    spec = {'asNumber': asn, 'nodeToNodeMeshEnabled': bool(bgp.get('node_mesh', True))}
    out = [{'apiVersion': 'projectcalico.org/v3', 'kind': 'BGPConfiguration', 'metadata': {'name': 'default'}, 'spec': spec}]
    for i, peer in enumerate(bgp.get('peers') or []):
        pf = '%s.peers[%d]' % (field, i)
        addr = _addr(peer.get('address'), pf + '.address')
        name = peer.get('name') or 'peer-%s' % str(addr).replace(':', '-').replace('.', '-')
        out.append({'apiVersion': 'projectcalico.org/v3', 'kind': 'BGPPeer', 'metadata': {'name': name},
                    'spec': {'peerIP': str(addr), 'asNumber': _asn(peer.get('asn'), pf + '.asn')}})
    return out


def _asn(value, field):
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise _err("an AS number 1-4294967295 is required, got %r" % (value,), field)
    if not 1 <= n <= 4294967295:
        raise _err("AS number %d is out of range 1-4294967295" % n, field)
    return n


def _addr(value, field):
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise _err("an IPv4 or IPv6 address is required, got %r" % (value,), field)


def flannel(ctx):
    pods, mode = ctx['pods'], ctx['mode']
    net_conf = {}
    if pods['ipv4'] is not None:
        net_conf['Network'] = str(pods['ipv4'])
    else:
        net_conf['EnableIPv4'] = False
    if pods['ipv6'] is not None:
        net_conf['IPv6Network'] = str(pods['ipv6'])
        net_conf['EnableIPv6'] = True
    backend = {'Type': mode}
    if mode == 'vxlan':
        backend['Port'] = TUNNEL_PORT[('flannel', 'vxlan')]
    if ctx['mtu'] is not None and mode != 'host-gw':
        backend['MTU'] = ctx['mtu']
    net_conf['Backend'] = backend
    values = {'podCidr': net_conf.get('Network', ''), 'podCidrv6': net_conf.get('IPv6Network', ''),
              'flannel': {'backend': mode}}
    if mode == 'vxlan':
        values['flannel']['backendPort'] = backend['Port']
    if 'MTU' in backend:
        values['flannel']['mtu'] = backend['MTU']
    # The upstream manifest's ConfigMap with our network configuration (the chart renders the same from values).
    config = {'apiVersion': 'v1', 'kind': 'ConfigMap',
              'metadata': {'name': 'kube-flannel-cfg', 'namespace': ctx['pins']['flannel']['namespace'],
                           'labels': {'app': 'flannel', 'tier': 'node'}},
              'data': {'net-conf.json': json.dumps(net_conf, indent=2, sort_keys=True) + '\n'}}
    return _component(ctx['pins'], 'flannel', values=_merge(values, ctx['cni'].get('values')), patches=[config])


BUILDERS = {'cilium': cilium, 'calico': calico, 'flannel': flannel}
