# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node firewall's add-on ports, derived from the cluster description (pure; controller side).

    derive(cluster, node_role, cni=None, features=None) -> {'cni', 'features', 'entries', 'warnings'}

`entries` are port-table entries for roles/firewall (`name`, `protocol`, optional `ports`, and
`from: cluster` or explicit `subnets`): exactly what the chosen CNI and its mode need between
nodes, MetalLB's memberlist and BGP sessions when MetalLB is used, and VRRP for a keepalived VIP
on control planes. Nothing is opened for what is not chosen.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.plugin_utils.addons import cni as cnimod

# What each CNI needs between nodes, by feature (the one table; roles/firewall reads it through
# the addon_ports filter). Sources: each project's "firewall requirements" / system requirements.
CNI_PORTS = {
    'flannel': {
        'vxlan': [{'name': 'flannel-vxlan', 'protocol': 'udp', 'ports': [8472]}],
        'wireguard': [{'name': 'flannel-wireguard', 'protocol': 'udp', 'ports': [51820, 51821]}],
        'host-gw': [],
    },
    'cilium': {
        'vxlan': [{'name': 'cilium-vxlan', 'protocol': 'udp', 'ports': [8472]}],
        'geneve': [{'name': 'cilium-geneve', 'protocol': 'udp', 'ports': [6081]}],
        'native': [],
        'health': [
            {'name': 'cilium-health', 'protocol': 'tcp', 'ports': [4240]},
            {'name': 'cilium-health-icmp', 'protocol': 'icmp'},
            {'name': 'cilium-health-icmpv6', 'protocol': 'icmpv6'},
        ],
        'wireguard': [{'name': 'cilium-wireguard', 'protocol': 'udp', 'ports': [51871]}],
        'hubble': [{'name': 'cilium-hubble', 'protocol': 'tcp', 'ports': [4244]}],
    },
    'calico': {
        'bgp': [{'name': 'calico-bgp', 'protocol': 'tcp', 'ports': [179]}],
        'ipip': [{'name': 'calico-ipip', 'protocol': 'ipencap'}],
        'vxlan': [{'name': 'calico-vxlan', 'protocol': 'udp', 'ports': [4789]}],
        'typha': [{'name': 'calico-typha', 'protocol': 'tcp', 'ports': [5473]}],
        'wireguard': [{'name': 'calico-wireguard', 'protocol': 'udp', 'ports': [51820, 51821]}],
    },
    'none': {},
}
# Each CNI's features when nothing says otherwise (its default mode).
DEFAULT_FEATURES = {'flannel': ['vxlan'], 'cilium': ['vxlan', 'health'], 'calico': ['bgp', 'ipip', 'typha'], 'none': []}
METALLB_MEMBERLIST = [{'name': 'metallb-memberlist', 'protocol': 'tcp', 'ports': [7946]},
                      {'name': 'metallb-memberlist-udp', 'protocol': 'udp', 'ports': [7946]}]


def cni_features(plugin, mode, encryption):
    """The feature list of a CNI in a mode (the keys of CNI_PORTS[plugin])."""
    if plugin == 'none':
        return []
    feats = [mode]
    if plugin == 'cilium':
        feats.append('health')
    if plugin == 'calico':
        if mode == 'ipip':
            feats = ['bgp', 'ipip']
        feats.append('typha')
    if encryption == 'wireguard':
        feats.append('wireguard')
    return feats


def derive(cluster, node_role='worker', cni=None, features=None):
    cluster = cnimod.with_defaults(cluster)
    warnings = []
    desc = cluster.get('cni') or {}
    if cni is None:
        cni = desc.get('plugin', 'none') if desc else 'none'
    if cni not in CNI_PORTS:
        raise ValidationError("must be one of %s, got %r" % (', '.join(sorted(CNI_PORTS)), cni), 'firewall_cni')
    if features is None:
        if desc and desc.get('plugin', 'none') == cni:
            dummy, plugin, mode, enc = cnimod._cni(cluster)
            features = cni_features(plugin, mode, enc)
        else:
            features = list(DEFAULT_FEATURES[cni])
    for i, f in enumerate(features):
        if f not in CNI_PORTS[cni]:
            raise ValidationError("%r is not a feature of %s; allowed: %s" % (
                f, cni, ', '.join(sorted(CNI_PORTS[cni])) or 'none'), 'firewall_cni_features[%d]' % i)
    entries = []
    for f in features:
        for e in CNI_PORTS[cni][f]:
            entries.append(dict(e, **{'from': 'cluster'}))
    if cni == 'calico':
        peers = [str(cnimod._addr(p.get('address'), 'nodenet_cluster.cni.bgp.peers[%d].address' % i))
                 for i, p in enumerate((desc.get('bgp') or {}).get('peers') or [])]
        if peers:
            entries.append({'name': 'calico-bgp-peers', 'protocol': 'tcp', 'ports': [179], 'subnets': _hosts(peers)})
    mlb = cluster.get('metallb') or {}
    if mlb:
        entries.extend(dict(e, **{'from': 'cluster'}) for e in METALLB_MEMBERLIST)
        if mlb.get('mode') == 'bgp':
            peers = [str(cnimod._addr(p.get('address'), 'nodenet_cluster.metallb.bgp.peers[%d].address' % i))
                     for i, p in enumerate((mlb.get('bgp') or {}).get('peers') or [])]
            if peers:
                entries.append({'name': 'metallb-bgp', 'protocol': 'tcp', 'ports': [179], 'subnets': _hosts(peers)})
            if cni == 'calico' and 'bgp' in features:
                warnings.append("Calico and MetalLB both speak BGP on port 179 on every node: peer MetalLB through "
                                "Calico (Calico's BGPConfiguration serviceLoadBalancerIPs) or run MetalLB in L2 mode")
    vip = cluster.get('vip') or {}
    if vip.get('address') and vip.get('provider', 'keepalived') == 'keepalived' and node_role == 'controlplane':
        entries.append({'name': 'vip-vrrp', 'protocol': 'vrrp', 'from': 'controlplane'})
    return {'cni': cni, 'features': list(features), 'entries': entries, 'warnings': warnings}


def _hosts(addresses):
    return sorted(set('%s/%d' % (a, 128 if ':' in a else 32) for a in addresses))
