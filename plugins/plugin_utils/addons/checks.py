# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Troubleshooting checks for the add-ons (pure; controller side), for the diagnose playbook.

Each check takes what `kubernetes.core.k8s_info` returns (its `resources` lists) and/or node facts
(`network_info`) and the cluster description, and returns findings:
    {'check': name, 'status': 'ok'|'warn'|'fail', 'object': what, 'message': ..., 'fix': ...}
The roles' tasks/check_*.yml gather the inputs; nothing here talks to a cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.plugin_utils.addons import cni as cnimod
from ansible_collections.seed.nodenet.plugins.plugin_utils.addons.metallb import parse_range

# CNI links whose MTU is the pod MTU (Cilium keeps its devices at the node MTU and sets route MTUs).
CNI_LINKS = ('flannel.1', 'flannel-v6.1', 'flannel-wg', 'flannel-wg-v6', 'vxlan.calico', 'vxlan-v6.calico',
             'tunl0', 'wireguard.cali', 'wg-v6.cali')
LB_IPS = ('metallb.io/loadBalancerIPs', 'metallb.universe.tf/loadBalancerIPs')
LB_POOL = ('metallb.io/address-pool', 'metallb.universe.tf/address-pool')


def _f(check, status, obj, message, fix=None):
    out = {'check': check, 'status': status, 'object': obj, 'message': message}
    if fix:
        out['fix'] = fix
    return out


def _ready(pod):
    for c in (pod.get('status') or {}).get('conditions') or []:
        if c.get('type') == 'Ready':
            return c.get('status') == 'True'
    return False


def _why(pod):
    st = pod.get('status') or {}
    for cs in (st.get('initContainerStatuses') or []) + (st.get('containerStatuses') or []):
        state = cs.get('state') or {}
        for key in ('waiting', 'terminated'):
            if state.get(key) and state[key].get('reason'):
                return '%s: %s' % (cs.get('name'), state[key]['reason'])
    return st.get('phase') or 'unknown'


def pods_ready(component, pods):
    """CNI (or MetalLB) pods not ready: one finding per pod that is not, or one for none at all."""
    name = 'pods-ready'
    if not pods:
        return [_f(name, 'fail', component, "no %s pods found: it is not installed, or its namespace/labels differ"
                   % component, "install it (roles seed.nodenet.cni / seed.nodenet.metallb) and check its DaemonSet")]
    out = []
    for pod in pods:
        meta = pod.get('metadata') or {}
        if not _ready(pod):
            out.append(_f(name, 'fail', '%s/%s' % (meta.get('namespace'), meta.get('name')),
                          "%s pod on node %s is not ready (%s)" % (component, (pod.get('spec') or {}).get('nodeName'), _why(pod)),
                          "kubectl -n %s describe pod %s; kubectl -n %s logs %s" % (
                              meta.get('namespace'), meta.get('name'), meta.get('namespace'), meta.get('name'))))
    if not out:
        out.append(_f(name, 'ok', component, "%d %s pods ready" % (len(pods), component)))
    return out


def _net(c):
    return ipaddress.ip_network(str(c), strict=False)


CNI_PREFIXES = ('cilium', 'flannel', 'cni', 'vxlan.calico', 'vxlan-v6.calico', 'tunl0', 'cali', 'wireguard.cali', 'lxc')


def pod_cidr_conflicts(cluster, nodes=None):
    """Pod CIDRs overlapping node networks, service CIDRs, the mesh, node routes or node addresses.

    Routes and addresses on the CNI's own links (cilium_*, flannel.*, cali*, tunl0, ...) are the
    CNI at work and not counted.
    """
    name = 'pod-cidr'
    out = []
    cluster = cnimod.with_defaults(cluster)
    pods = [_net(c) for c in cluster.get('pod_cidrs') or []]
    others = [('service CIDR', _net(c)) for c in cluster.get('service_cidrs') or []]
    for net in cluster.get('networks') or []:
        others += [('node network %s' % net.get('name'), _net(c)) for c in net.get('cidrs') or []]
    mesh = cluster.get('mesh') or {}
    if mesh.get('enabled', bool(mesh)):
        others += [('mesh', _net(c)) for c in mesh.get('cidrs') or []]
    for node, facts in sorted((nodes or {}).items()):
        for r in (facts or {}).get('routes') or []:
            dst, link = r.get('destination'), r.get('link') or ''
            if not dst or dst == 'default' or link.startswith(CNI_PREFIXES) or r.get('table', 'main') not in ('main', 254):
                continue
            try:
                net = _net(dst)
            except ValueError:
                continue
            if net.prefixlen:        # a default route (network_info: 0.0.0.0/0, ::/0) covers everything, overlaps nothing
                others.append(('%s route %s dev %s' % (node, dst, link or '?'), net))
        for a in (facts or {}).get('addresses') or []:
            try:
                ip = ipaddress.ip_interface(str(a.get('address'))).ip
            except ValueError:
                continue
            if (a.get('link') or '').startswith(CNI_PREFIXES):
                continue
            for p in pods:
                if ip in p:
                    out.append(_f(name, 'fail', node, "%s address %s on %s is inside pod CIDR %s" % (
                        node, ip, a.get('link'), p), "renumber the node or choose another pod CIDR"))
    for p in pods:
        for what, o in others:
            if o.version == p.version and o.overlaps(p):
                out.append(_f(name, 'fail', str(p), "pod CIDR %s overlaps %s (%s)" % (p, what, o),
                              "pick pod and service CIDRs outside every node network and route"))
    if not out:
        out.append(_f(name, 'ok', ', '.join(str(p) for p in pods), "pod CIDRs overlap nothing known"))
    return out


def mtu(cluster, nodes=None):
    """MTU consistency: links of one node network that disagree, and CNI links above the pod MTU."""
    name = 'mtu'
    out = []
    cluster = cnimod.with_defaults(cluster)
    try:
        p = cnimod.plan(cluster, nodes)
    except (ValidationError, ValueError, TypeError, KeyError) as e:   # a diagnose run reports a broken description
        return [_f(name, 'fail', 'nodenet_cluster.cni', str(e))]
    for net in cluster.get('networks') or []:
        nets = [_net(c) for c in net.get('cidrs') or []]
        seen = {}
        for node, facts in sorted((nodes or {}).items()):
            mtus = dict((l.get('name'), l.get('mtu')) for l in (facts or {}).get('links') or [])
            for a in (facts or {}).get('addresses') or []:
                try:
                    ip = ipaddress.ip_interface(str(a.get('address'))).ip
                except ValueError:
                    continue
                if any(ip in n for n in nets) and mtus.get(a.get('link')):
                    seen['%s %s' % (node, a['link'])] = int(mtus[a['link']])
        if len(set(seen.values())) > 1 or (net.get('mtu') and any(m != int(net['mtu']) for m in seen.values())):
            detail = ', '.join('%s=%d' % kv for kv in sorted(seen.items()))
            out.append(_f(name, 'fail', 'network %s' % net.get('name'),
                          "links on network %s disagree on the MTU (declared %s; %s): large packets are lost between "
                          "nodes with different MTUs" % (net.get('name'), net.get('mtu'), detail),
                          "set one MTU for the whole network (and the switches)"))
    if p['mtu_limit'] is not None:
        for node, facts in sorted((nodes or {}).items()):
            for l in (facts or {}).get('links') or []:
                if l.get('name') in CNI_LINKS and l.get('mtu') and int(l['mtu']) > p['mtu_limit']:
                    encap = '+'.join(x[0] for x in p['overhead']['parts']) or 'none'
                    msg = ("%s on %s has MTU %d, more than the pod path allows (%d = %d - %d for %s): packets near full "
                           "size are dropped" % (l['name'], node, int(l['mtu']), p['mtu_limit'], p['mtu_path']['mtu'],
                                                 p['overhead']['bytes'], encap))
                    out.append(_f(name, 'fail', '%s %s' % (node, l['name']), msg,
                                  "re-run role seed.nodenet.cni (it sets the MTU) and restart the CNI pods"))
    if not out:
        out.append(_f(name, 'ok', 'pod MTU', "pod MTU %s on a %s-byte path" % (p['mtu'], p['mtu_path']['mtu'])))
    return out


def _ranges(pool):
    out = []
    for text in (pool.get('spec') or {}).get('addresses') or []:
        try:
            out.append(parse_range(text, 'addresses'))
        except ValidationError:
            pass    # a pool MetalLB itself would have refused: it covers nothing
    return out


def _in(ip, ranges):
    a = ipaddress.ip_address(str(ip))
    return any(v == a.version and lo <= int(a) <= hi for v, lo, hi in ranges)


def _selected(pool, adv):
    spec = adv.get('spec') or {}
    names = spec.get('ipAddressPools')
    sels = spec.get('ipAddressPoolSelectors')
    if not names and not sels:
        return True                      # an advertisement without pools announces every pool
    if names and pool['metadata']['name'] in names:
        return True
    labels = pool['metadata'].get('labels') or {}
    return any(all(labels.get(k) == v for k, v in (s.get('matchLabels') or {}).items()) for s in sels or [])


def _ann(svc, keys):
    ann = (svc.get('metadata') or {}).get('annotations') or {}
    for k in keys:
        if ann.get(k):
            return ann[k]
    return None


def loadbalancers(services, pods=None, pools=None, l2ads=None, bgpads=None):
    """Why LoadBalancer services are pending (or assigned but not announced)."""
    name = 'loadbalancer'
    out = []
    pods = pods or []
    pools = pools or []
    controller_ready = any(_ready(p) and ((p.get('metadata') or {}).get('labels') or {}).get(
        'app.kubernetes.io/component', (p.get('metadata') or {}).get('labels', {}).get('component')) == 'controller'
        for p in pods)
    speakers = [p for p in pods if ((p.get('metadata') or {}).get('labels') or {}).get(
        'app.kubernetes.io/component', ((p.get('metadata') or {}).get('labels') or {}).get('component')) == 'speaker']
    used = {}
    for svc in services or []:
        for ing in ((svc.get('status') or {}).get('loadBalancer') or {}).get('ingress') or []:
            if ing.get('ip'):
                used[ing['ip']] = svc
    for svc in services or []:
        if (svc.get('spec') or {}).get('type') != 'LoadBalancer':
            continue
        meta = svc.get('metadata') or {}
        obj = '%s/%s' % (meta.get('namespace'), meta.get('name'))
        ips = [i.get('ip') for i in ((svc.get('status') or {}).get('loadBalancer') or {}).get('ingress') or [] if i.get('ip')]
        if not ips:
            if not controller_ready:
                out.append(_f(name, 'fail', obj, "pending: no MetalLB controller pod is ready, so nothing assigns addresses",
                              "install MetalLB (role seed.nodenet.metallb) or check kubectl -n metallb-system get pods"))
                continue
            if not pools:
                out.append(_f(name, 'fail', obj, "pending: there is no IPAddressPool", "declare nodenet_cluster.metallb.pools"))
                continue
            wanted = _ann(svc, LB_IPS) or (svc.get('spec') or {}).get('loadBalancerIP')
            pool_name = _ann(svc, LB_POOL)
            candidates = pools
            if pool_name:
                candidates = [p for p in pools if p['metadata']['name'] == pool_name]
                if not candidates:
                    out.append(_f(name, 'fail', obj, "pending: it asks for pool %r, which does not exist (have: %s)" % (
                        pool_name, ', '.join(p['metadata']['name'] for p in pools)), "fix the address-pool annotation"))
                    continue
            if wanted:
                missing = [ip.strip() for ip in str(wanted).split(',') if not any(_in(ip.strip(), _ranges(p)) for p in candidates)]
                if missing:
                    out.append(_f(name, 'fail', obj, "pending: no pool covers the requested address %s" % ', '.join(missing),
                                  "add it to a pool or request an address inside one"))
                    continue
            else:
                auto = [p for p in candidates if (p.get('spec') or {}).get('autoAssign', True) or pool_name]
                if not auto:
                    out.append(_f(name, 'fail', obj, "pending: every pool has autoAssign false and the service names none",
                                  "set auto_assign: true on a pool, or annotate the service with its pool"))
                    continue
                free = 0
                for p in auto:
                    for v, lo, hi in _ranges(p):
                        free += (hi - lo + 1) - sum(1 for ip in used if _in(ip, [(v, lo, hi)]))
                if free <= 0:
                    out.append(_f(name, 'fail', obj, "pending: the pools are used up (%s)" % ', '.join(
                        p['metadata']['name'] for p in auto), "add addresses to a pool"))
                    continue
            out.append(_f(name, 'warn', obj, "pending although a pool covers it: see kubectl describe service %s" % meta.get('name')))
            continue
        owners = [p for p in pools if any(_in(ip, _ranges(p)) for ip in ips)]
        if not owners:
            out.append(_f(name, 'warn', obj, "address %s is in no MetalLB pool (another controller assigned it?)" % ', '.join(ips)))
            continue
        ads = [a for a in (l2ads or []) + (bgpads or []) if any(_selected(p, a) for p in owners)]
        if not ads:
            out.append(_f(name, 'fail', obj, "%s assigned from pool %s but not announced: no L2Advertisement or "
                          "BGPAdvertisement selects that pool" % (', '.join(ips), owners[0]['metadata']['name']),
                          "add the pool to an L2Advertisement (nodenet_cluster.metallb.mode l2)"))
            continue
        if not any(_ready(p) for p in speakers):
            out.append(_f(name, 'fail', obj, "%s assigned but not announced: no MetalLB speaker pod is ready" % ', '.join(ips),
                          "kubectl -n metallb-system get pods -l component=speaker"))
            continue
        out.append(_f(name, 'ok', obj, "%s assigned and announced" % ', '.join(ips)))
    return out
