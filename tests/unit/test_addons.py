"""Add-on values (CNI, MetalLB, derived firewall ports) as data cases, and the diagnose checks.

cases/addons_*.yml hold the cases; nothing here needs a kernel or a cluster. The checks take
what kubernetes.core.k8s_info returns; the inputs below are such resources written by hand.
"""
import copy
import os
import sys

import pytest
import yaml

from ansible_collections.seed.nodenet.plugins.plugin_utils.addons import (
    checks, cni, metallb, ports, render, versions)
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError

HERE = os.path.dirname(__file__)


def load(name):
    with open(os.path.join(HERE, 'cases', name)) as fh:
        return yaml.safe_load(fh)


CNI = load('addons_cni.yml')
MLB = load('addons_metallb.yml')
PORTS = load('addons_ports.yml')


def merged(base, over):
    out = copy.deepcopy(base)
    out.update(copy.deepcopy(over))
    return out


def dig(obj, path):
    for part in path.split('.'):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


@pytest.mark.parametrize('case', CNI['cases'], ids=[c['name'] for c in CNI['cases']])
def test_cni_case(case):
    cluster = merged(CNI['base'], case['cluster'])
    if 'error' in case:
        with pytest.raises(ValidationError) as err:
            cni.plan(cluster, case.get('nodes'))
        assert err.value.field == case['error'][0]
        assert case['error'][1] in err.value.msg
        return
    plan = cni.plan(cluster, case.get('nodes'))
    for path, want in case['expect'].items():
        assert dig(plan, path) == want, path
    # whatever the mode, pods never get more than the path minus the encapsulation
    if plan['mtu'] is not None:
        assert plan['mtu'] <= plan['mtu_limit'] == plan['mtu_path']['mtu'] - plan['overhead']['bytes'] or \
            plan['mtu_limit'] == cluster['cni'].get('mtu')


def test_every_plugin_and_mode_has_a_case():
    seen = set()
    for case in CNI['cases']:
        if 'error' in case:
            continue
        c = case['cluster'].get('cni') or {}
        plugin = c.get('plugin', 'none')
        seen.add((plugin, c.get('mode') or cni.MODES[plugin][0]))
    wanted = set((p, m) for p, modes in cni.MODES.items() for m in modes)
    assert wanted <= seen, wanted - seen


def test_overhead_table_is_the_documented_arithmetic():
    assert cni.overhead('flannel', 'vxlan', 'none', 'ipv4') == (50, [('vxlan', 50)])
    assert cni.overhead('cilium', 'geneve', 'none', 'ipv6')[0] == 70
    assert cni.overhead('calico', 'ipip', 'none', 'ipv4')[0] == 20
    assert cni.overhead('cilium', 'native', 'wireguard', 'ipv6')[0] == 80
    assert cni.overhead('calico', 'bgp', 'none', 'ipv4') == (0, [])


def test_versions_live_in_one_place_and_overrides_merge():
    chart = {'repo': 'https://example.invalid/', 'name': 'cilium', 'version': '1.18.9'}
    p = cni.plan({'pod_cidrs': ['10.244.0.0/16'], 'cni': {'plugin': 'cilium'}},
                 versions={'cilium': {'version': '1.18.9', 'chart': chart}})
    assert p['components'][0]['chart']['version'] == '1.18.9'
    assert versions.PINS['cilium']['chart']['version'] != '1.18.9'
    for name, pin in versions.PINS.items():
        assert pin['chart'] or pin['manifests'], name
        for url in pin['manifests']:
            assert pin['version'] in url, (name, url)


@pytest.mark.parametrize('case', MLB['cases'], ids=[c['name'] for c in MLB['cases']])
def test_metallb_case(case):
    cluster = merged(MLB['base'], case['cluster'])
    if 'error' in case:
        with pytest.raises(ValidationError) as err:
            metallb.plan(cluster, MLB['nodes'])
        assert err.value.field == case['error'][0]
        assert case['error'][1] in err.value.msg
        return
    plan = metallb.plan(cluster, MLB['nodes'])
    if 'objects' in case:
        assert plan['component']['objects'] == case['objects']
    assert len(plan['warnings']) == case['warnings'], plan['warnings']


@pytest.mark.parametrize('case', PORTS['cases'], ids=[c['name'] for c in PORTS['cases']])
def test_ports_case(case):
    cluster = merged(PORTS['base'], case['cluster']) if case['cluster'] else {}
    got = ports.derive(cluster, case['role'])
    table = {}
    for e in got['entries']:
        table[e['name']] = [e['protocol'], e.get('ports'), e.get('from', e.get('subnets'))]
    assert table == case['entries']


def test_ports_explicit_cni_and_features_keep_the_old_interface():
    got = ports.derive({}, 'worker', 'calico', ['bgp', 'typha'])
    assert [e['name'] for e in got['entries']] == ['calico-bgp', 'calico-typha']
    with pytest.raises(ValidationError) as err:
        ports.derive({}, 'worker', 'calico', ['geneve'])
    assert err.value.field == 'firewall_cni_features[0]'
    with pytest.raises(ValidationError) as err:
        ports.derive({}, 'worker', 'weave')
    assert err.value.field == 'firewall_cni'


def test_calico_and_metallb_bgp_on_one_node_is_warned():
    cluster = {'pod_cidrs': ['10.244.0.0/16'], 'cni': {'plugin': 'calico', 'mode': 'bgp'},
               'metallb': {'mode': 'bgp', 'pools': [{'name': 'a', 'addresses': ['203.0.113.0/28']}],
                           'bgp': {'asn': 64513, 'peers': [{'address': '192.0.2.1', 'asn': 64512}]}}}
    assert any('port 179' in w for w in ports.derive(cluster, 'worker')['warnings'])


# ---------------------------------------------------------------- render_only

def test_render_files_make_a_kustomization_tree():
    cluster = {'networks': [{'name': 'n', 'cidrs': ['192.168.50.0/24'], 'mtu': 1500}], 'pod_cidrs': ['10.244.0.0/16'],
               'cni': {'plugin': 'flannel', 'multus': True},
               'metallb': {'pools': [{'name': 'a', 'addresses': ['192.168.50.200/29']}]}}
    comps = cni.plan(cluster)['components'] + [metallb.plan(cluster)['component']]
    files = render.files(comps, 'manifests')
    top = yaml.safe_load(files['kustomization.yaml'])
    assert top['resources'] == ['flannel', 'multus', 'metallb']
    fl = yaml.safe_load(files['flannel/kustomization.yaml'])
    assert fl['resources'] == versions.PINS['flannel']['manifests']
    assert fl['patches'] == [{'path': 'patches.yaml'}]
    net_conf = yaml.safe_load(list(yaml.safe_load_all(files['flannel/patches.yaml']))[0]['data']['net-conf.json'])
    assert net_conf == {'Network': '10.244.0.0/16', 'Backend': {'Type': 'vxlan', 'Port': 8472, 'MTU': 1500}}
    ml = yaml.safe_load(files['metallb/kustomization.yaml'])
    assert ml['resources'][-1] == 'objects.yaml'
    helm = render.files(comps, 'helm')
    chart = yaml.safe_load(helm['flannel/kustomization.yaml'])['helmCharts'][0]
    assert chart['version'] == versions.PINS['flannel']['chart']['version']
    assert yaml.safe_load(helm['flannel/values.yaml'])['flannel']['mtu'] == 1500
    # Multus has no chart: manifests whatever the method
    assert 'resources' in yaml.safe_load(helm['multus/kustomization.yaml'])


def test_method_choice():
    cil = {'chart': {'name': 'cilium'}, 'manifests': []}
    mul = {'chart': None, 'manifests': ['u']}
    both = {'chart': {'name': 'x'}, 'manifests': ['u']}
    assert render.method_of(cil, 'manifests') == 'helm'
    assert render.method_of(mul, 'helm') == 'manifests'
    assert render.method_of(both, 'auto', helm_available=True) == 'helm'
    assert render.method_of(both, 'auto', helm_available=False) == 'manifests'
    with pytest.raises(ValueError):
        render.method_of(both, 'kubectl')


def test_patch_merges_into_the_upstream_object_and_refuses_a_missing_one():
    upstream = [{'kind': 'ConfigMap', 'metadata': {'name': 'kube-flannel-cfg', 'namespace': 'kube-flannel'},
                 'data': {'cni-conf.json': '{}', 'net-conf.json': 'old'}},
                {'kind': 'DaemonSet', 'metadata': {'name': 'kube-flannel-ds', 'namespace': 'kube-flannel'}}, None]
    ours = {'kind': 'ConfigMap', 'metadata': {'name': 'kube-flannel-cfg', 'namespace': 'kube-flannel'},
            'data': {'net-conf.json': 'new'}}
    out = render.patch(upstream, [ours])
    assert out[0]['data'] == {'cni-conf.json': '{}', 'net-conf.json': 'new'}
    assert out[1] == upstream[1] and len(out) == 2
    with pytest.raises(ValueError, match='no ConfigMap kube-system/x'):
        render.patch(upstream, [{'kind': 'ConfigMap', 'metadata': {'name': 'x', 'namespace': 'kube-system'}}])


def test_strict_arp():
    def cm(conf):
        return {'metadata': {'name': 'kube-proxy', 'namespace': 'kube-system'}, 'data': {'config.conf': conf}}
    got = metallb.strict_arp(cm('mode: ipvs\nipvs:\n  strictARP: false\n  scheduler: rr\n'))
    assert got['needed'] and got['mode'] == 'ipvs'
    assert yaml.safe_load(got['patched']['data']['config.conf'])['ipvs'] == {'strictARP': True, 'scheduler': 'rr'}
    assert metallb.strict_arp(cm('mode: ipvs\nipvs: {strictARP: true}\n'))['needed'] is False
    assert metallb.strict_arp(cm('mode: iptables\n')) == {'mode': 'iptables', 'needed': False, 'patched': None}
    assert metallb.strict_arp(cm("mode: ''\n"))['mode'] == 'iptables'
    assert metallb.strict_arp(None)['needed'] is False      # no kube-proxy (Cilium replaces it)


# ---------------------------------------------------------------- diagnose checks

def pod(name, ready=True, reason=None, labels=None, ns='kube-system', node='n1'):
    st = {'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}]}
    if reason:
        st['containerStatuses'] = [{'name': 'agent', 'state': {'waiting': {'reason': reason}}}]
    return {'metadata': {'name': name, 'namespace': ns, 'labels': labels or {}}, 'spec': {'nodeName': node}, 'status': st}


def statuses(findings):
    return [(f['status'], f['object']) for f in findings]


def test_check_pods():
    got = checks.pods_ready('cilium', [pod('cilium-a'), pod('cilium-b', False, 'CrashLoopBackOff', node='n2')])
    assert statuses(got) == [('fail', 'kube-system/cilium-b')]
    assert 'n2' in got[0]['message'] and 'CrashLoopBackOff' in got[0]['message']
    assert checks.pods_ready('cilium', [])[0]['status'] == 'fail'
    assert checks.pods_ready('cilium', [pod('cilium-a')])[0]['status'] == 'ok'


CLUSTER = {'networks': [{'name': 'nodes', 'cidrs': ['192.168.50.0/24'], 'mtu': 1500}],
           'pod_cidrs': ['10.244.0.0/16'], 'service_cidrs': ['10.96.0.0/12'],
           'cni': {'plugin': 'flannel', 'mode': 'vxlan'}}


def test_check_pod_cidrs():
    assert checks.pod_cidr_conflicts(CLUSTER)[0]['status'] == 'ok'
    bad = dict(CLUSTER, service_cidrs=['10.240.0.0/12'])
    assert 'service CIDR' in checks.pod_cidr_conflicts(bad)[0]['message']
    nodes = {'n1': {'addresses': [{'address': '10.244.9.1/24', 'link': 'eth1'}, {'address': '10.244.1.0/32', 'link': 'flannel.1'}],
                    'routes': [{'destination': '10.244.2.0/24', 'link': 'flannel.1'},
                               {'destination': '10.244.128.0/17', 'gateway': '192.168.50.1', 'link': 'eth0'},
                               {'destination': '10.244.0.0/16', 'link': 'eth0', 'table': 100}]}}
    got = checks.pod_cidr_conflicts(CLUSTER, nodes)
    assert sorted(f['message'] for f in got) == [
        'n1 address 10.244.9.1 on eth1 is inside pod CIDR 10.244.0.0/16',
        'pod CIDR 10.244.0.0/16 overlaps n1 route 10.244.128.0/17 dev eth0 (10.244.128.0/17)']


def test_check_mtu():
    nodes = {'n1': {'links': [{'name': 'eth0', 'mtu': 1500}, {'name': 'flannel.1', 'mtu': 1450}],
                    'addresses': [{'address': '192.168.50.11/24', 'link': 'eth0'}]},
             'n2': {'links': [{'name': 'eth0', 'mtu': 1500}, {'name': 'flannel.1', 'mtu': 1450}],
                    'addresses': [{'address': '192.168.50.12/24', 'link': 'eth0'}]}}
    assert statuses(checks.mtu(CLUSTER, nodes)) == [('ok', 'pod MTU')]
    nodes['n2']['links'][0]['mtu'] = 9000     # a jumbo NIC on a 1500 network: path MTU stays 1500 (declared)
    nodes['n2']['links'][1]['mtu'] = 8950     # ... and flannel followed the NIC
    got = checks.mtu(CLUSTER, nodes)
    assert statuses(got) == [('fail', 'network nodes'), ('fail', 'n2 flannel.1')]
    assert 'n2 eth0=9000' in got[0]['message'] and '1450' in got[1]['message']
    assert checks.mtu(dict(CLUSTER, cni={'plugin': 'bogus'}))[0]['status'] == 'fail'


def svc(name, ip=None, requested=None, pool=None):
    s = {'metadata': {'name': name, 'namespace': 'default', 'annotations': {}}, 'spec': {'type': 'LoadBalancer'},
         'status': {'loadBalancer': {'ingress': [{'ip': ip}] if ip else []}}}
    if requested:
        s['metadata']['annotations']['metallb.io/loadBalancerIPs'] = requested
    if pool:
        s['metadata']['annotations']['metallb.universe.tf/address-pool'] = pool
    return s


POOL = {'metadata': {'name': 'default'}, 'spec': {'addresses': ['192.168.50.200-192.168.50.201'], 'autoAssign': True}}
CTRL = pod('controller-1', labels={'app.kubernetes.io/component': 'controller'}, ns='metallb-system')
SPEAKER = pod('speaker-1', labels={'component': 'speaker'}, ns='metallb-system')
L2 = {'metadata': {'name': 'l2'}, 'spec': {'ipAddressPools': ['default']}}


def test_check_loadbalancers_reasons():
    def one(services, **kw):
        got = checks.loadbalancers(services, **kw)
        return [(f['status'], f['message'].split(':')[0] if f['status'] != 'ok' else 'ok') for f in got]

    assert one([svc('a')], pods=[SPEAKER], pools=[POOL]) == [('fail', 'pending')]
    assert 'controller' in checks.loadbalancers([svc('a')], pods=[SPEAKER], pools=[POOL])[0]['message']
    assert 'no IPAddressPool' in checks.loadbalancers([svc('a')], pods=[CTRL], pools=[])[0]['message']
    got = checks.loadbalancers([svc('a', requested='10.0.0.5')], pods=[CTRL], pools=[POOL])
    assert 'no pool covers the requested address 10.0.0.5' in got[0]['message']
    got = checks.loadbalancers([svc('a', pool='gold')], pods=[CTRL], pools=[POOL])
    assert "pool 'gold', which does not exist" in got[0]['message']
    manual = {'metadata': {'name': 'm'}, 'spec': {'addresses': ['192.168.50.210/32'], 'autoAssign': False}}
    assert 'autoAssign false' in checks.loadbalancers([svc('a')], pods=[CTRL], pools=[manual])[0]['message']
    full = [svc('x', ip='192.168.50.200'), svc('y', ip='192.168.50.201'), svc('z')]
    got = checks.loadbalancers(full, pods=[CTRL, SPEAKER], pools=[POOL], l2ads=[L2])
    assert statuses(got) == [('ok', 'default/x'), ('ok', 'default/y'), ('fail', 'default/z')]
    assert 'used up' in got[2]['message']
    # assigned, but no advertisement selects the pool, or no speaker runs
    got = checks.loadbalancers([svc('x', ip='192.168.50.200')], pods=[CTRL, SPEAKER], pools=[POOL], l2ads=[])
    assert 'not announced: no L2Advertisement' in got[0]['message']
    got = checks.loadbalancers([svc('x', ip='192.168.50.200')], pods=[CTRL], pools=[POOL], l2ads=[L2])
    assert 'no MetalLB speaker pod is ready' in got[0]['message']
    other = {'metadata': {'name': 'l2'}, 'spec': {'ipAddressPools': ['other']}}
    got = checks.loadbalancers([svc('x', ip='192.168.50.200')], pods=[CTRL, SPEAKER], pools=[POOL], l2ads=[other])
    assert got[0]['status'] == 'fail'
    everything = {'metadata': {'name': 'l2'}, 'spec': {}}
    got = checks.loadbalancers([svc('x', ip='192.168.50.200')], pods=[CTRL, SPEAKER], pools=[POOL], l2ads=[everything])
    assert got[0]['status'] == 'ok'
    # ClusterIP services are not looked at
    cip = svc('c')
    cip['spec']['type'] = 'ClusterIP'
    assert checks.loadbalancers([cip], pods=[], pools=[]) == []


# ---------------------------------------------------------------- offline schema validation of every case

sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'schemas'))
import k8s_offline  # noqa: E402  (tests/schemas: kubernetes-validate + the pinned CRDs' JSON schemas)


def _objects(components):
    for comp in components:
        for obj in comp['objects'] + comp['patches']:
            yield comp['name'], obj


def test_every_rendered_object_of_every_case_validates_against_the_pinned_schemas():
    count = 0
    for case in CNI['cases']:
        if 'error' in case:
            continue
        plan = cni.plan(merged(CNI['base'], case['cluster']), case.get('nodes'))
        for name, obj in _objects(plan['components']):
            assert k8s_offline.validate(obj) == [], (case['name'], name, obj)
            count += 1
    for case in MLB['cases']:
        if 'error' in case:
            continue
        plan = metallb.plan(merged(MLB['base'], case['cluster']), MLB['nodes'])
        for name, obj in _objects([plan['component']]):
            assert k8s_offline.validate(obj) == [], (case['name'], name, obj)
            count += 1
    assert count >= 25, count


def test_a_misspelt_field_is_caught_by_the_schemas():
    plan = cni.plan({'pod_cidrs': ['10.244.0.0/16'], 'cni': {'plugin': 'calico', 'values': {'calicoNetwork': {'mtuu': 1}}}})
    problems = k8s_offline.validate(plan['components'][0]['objects'][0])
    assert any("'mtuu' was unexpected" in p for p in problems), problems
    pool = metallb.plan({'metallb': {'pools': [{'name': 'a', 'addresses': ['203.0.113.0/28']}]}})['component']['objects'][0]
    pool['spec']['autoAssign'] = 'yes'
    assert k8s_offline.validate(pool)


def test_flannel_patch_applies_to_the_pinned_upstream_manifest():
    upstream = k8s_offline.load_all(os.path.join(os.path.dirname(HERE), 'schemas', 'upstream', 'kube-flannel-v0.28.9.manifest'))
    plan = cni.plan({'networks': [{'name': 'n', 'cidrs': ['fd00:50::/64'], 'mtu': 9000}],
                     'pod_cidrs': ['10.244.0.0/16', 'fd00:10:244::/56'], 'cni': {'plugin': 'flannel'}})
    docs = render.patch(upstream, plan['components'][0]['patches'])
    cm = [d for d in docs if d['kind'] == 'ConfigMap'][0]
    assert 'cni-conf.json' in cm['data']           # upstream's CNI config kept
    assert yaml.safe_load(cm['data']['net-conf.json']) == {
        'Network': '10.244.0.0/16', 'IPv6Network': 'fd00:10:244::/56', 'EnableIPv6': True,
        'Backend': {'Type': 'vxlan', 'Port': 8472, 'MTU': 8980}}    # 9000 - 70 + flannel's own 50
    assert k8s_offline.validate(cm) == []
    assert len(docs) == len(upstream)
