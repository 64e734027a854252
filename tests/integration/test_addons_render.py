"""Integration tier for roles seed.nodenet.cni and seed.nodenet.metallb: render_only, run as a user would.

No Kubernetes API server can run here, so the roles are run up to the API call: they derive the
values and write everything they would apply into a directory; that tree is validated offline
(tests/schemas/k8s_offline.py: kubernetes-validate for standard objects, the pinned CRDs' JSON
schemas for custom resources). Check mode writes nothing, a second run changes nothing, switching
the CNI removes the old files, and a bad pool fails naming the field with nothing written. Each
ansible-playbook run takes 15-100 s on a loaded 2-core machine, so the cases share runs; every CNI
and mode is rendered and validated in the unit tier (tests/unit/test_addons.py).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, '.venv', 'bin')
sys.path.insert(0, os.path.join(ROOT, 'tests', 'schemas'))
import k8s_offline  # noqa: E402

BASE = {
    'networks': [{'name': 'nodes', 'cidrs': ['192.168.50.0/24', 'fd00:50::/64'], 'mtu': 1500}],
    'pod_cidrs': ['10.244.0.0/16', 'fd00:10:244::/56'],
    'service_cidrs': ['10.96.0.0/12', 'fd00:10:96::/112'],
    'vip': {'address': '192.168.50.100', 'provider': 'keepalived'},
}
NODES = {'cp1': {'links': [{'name': 'eth0', 'mtu': 1500}], 'addresses': [{'address': '192.168.50.11/24', 'link': 'eth0'}]},
         'w1': {'links': [{'name': 'eth0', 'mtu': 1400}], 'addresses': [{'address': '192.168.50.21/24', 'link': 'eth0'}]}}


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix='nodenet-render-')
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run(workdir, cluster, *extra, nodes=None):
    varsfile = os.path.join(workdir, 'vars.yml')
    with open(varsfile, 'w') as fh:
        yaml.safe_dump({'nodenet_cluster': cluster, 'nodenet_render_dir': os.path.join(workdir, 'out'),
                        'nodes': nodes or {}}, fh)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'), ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1',
               PATH=VENV + os.pathsep + os.environ['PATH'])
    p = subprocess.run([os.path.join(VENV, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                        os.path.join(HERE, 'playbooks', 'addons_render.yml'), '-e', '@' + varsfile] + list(extra),
                       capture_output=True, text=True, env=env, check=False)
    m = re.search(r'localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', p.stdout)
    assert m, 'no recap:\n%s\n%s' % (p.stdout[-3000:], p.stderr[-3000:])
    return {'rc': p.returncode, 'changed': int(m.group(2)), 'failed': int(m.group(4)), 'out': p.stdout + p.stderr}


def files(workdir):
    out = os.path.join(workdir, 'out')
    return sorted(os.path.relpath(os.path.join(d, f), out) for d, dummy, fs in os.walk(out) for f in fs)


def docs(workdir, rel):
    return k8s_offline.load_all(os.path.join(workdir, 'out', rel))


def test_check_run_idempotent_valid_then_switch_cni(workdir):
    """calico + Multus + MetalLB L2: --check writes nothing, the run writes a valid tree, a re-run changes
    nothing; then Cilium with MetalLB BGP replaces it (Calico's files removed)."""
    cluster = dict(BASE, cni={'plugin': 'calico', 'mode': 'vxlan', 'encryption': 'wireguard', 'multus': True,
                              'bgp': {'asn': 64512, 'peers': [{'address': '192.168.50.1', 'asn': 64500}]}},
                   metallb={'mode': 'l2', 'pools': [{'name': 'default', 'addresses': ['192.168.50.200-192.168.50.220']}]})
    r = run(workdir, cluster, '--check', nodes=NODES)
    assert r['rc'] == 0 and r['changed'] > 0, r['out'][-3000:]
    assert not os.path.exists(os.path.join(workdir, 'out')), 'check mode wrote files'
    r = run(workdir, cluster, nodes=NODES)
    assert r['rc'] == 0, r['out'][-3000:]
    assert files(workdir) == ['cni/calico/kustomization.yaml', 'cni/calico/objects.yaml', 'cni/kustomization.yaml',
                              'cni/multus/kustomization.yaml', 'kustomization.yaml', 'metallb/kustomization.yaml',
                              'metallb/metallb/kustomization.yaml', 'metallb/metallb/objects.yaml']
    problems, count = k8s_offline.validate_tree(os.path.join(workdir, 'out'))
    # Installation, APIServer, FelixConfiguration, BGPConfiguration, BGPPeer; IPAddressPool, L2Advertisement
    assert problems == [] and count == 7, problems
    inst = docs(workdir, 'cni/calico/objects.yaml')[0]
    # w1's eth0 is 1400 on the 1500 network: the path MTU is 1400, minus WireGuard's 60
    assert inst['spec']['calicoNetwork']['mtu'] == 1340
    assert 'pod MTU 1340: path 1400 (w1 eth0) - 60 (wireguard 60)' in r['out']
    assert [d['kind'] for d in docs(workdir, 'metallb/metallb/objects.yaml')] == ['IPAddressPool', 'L2Advertisement']
    assert yaml.safe_load(open(os.path.join(workdir, 'out', 'kustomization.yaml')))['resources'] == ['cni', 'metallb']
    r = run(workdir, cluster, nodes=NODES)
    assert r['rc'] == 0 and r['changed'] == 0, r['out'][-3000:]

    cilium = dict(BASE, cni={'plugin': 'cilium', 'mode': 'native', 'kube_proxy_replacement': True},
                  metallb={'mode': 'bgp', 'pools': [{'name': 'public', 'addresses': ['203.0.113.0/28']}],
                           'bgp': {'asn': 64513, 'peers': [{'address': '192.168.50.1', 'asn': 64512}]}})
    r = run(workdir, cilium)
    assert r['rc'] == 0, r['out'][-3000:]
    assert files(workdir) == ['cni/cilium/kustomization.yaml', 'cni/cilium/values.yaml', 'cni/kustomization.yaml',
                              'kustomization.yaml', 'metallb/kustomization.yaml',
                              'metallb/metallb/kustomization.yaml', 'metallb/metallb/objects.yaml']
    kust = yaml.safe_load(open(os.path.join(workdir, 'out', 'cni', 'cilium', 'kustomization.yaml')))
    assert kust['helmCharts'][0]['name'] == 'cilium' and kust['helmCharts'][0]['valuesFile'] == 'values.yaml'
    values = yaml.safe_load(open(os.path.join(workdir, 'out', 'cni', 'cilium', 'values.yaml')))
    assert values['routingMode'] == 'native' and values['k8sServiceHost'] == '192.168.50.100' and values['MTU'] == 1500
    problems, count = k8s_offline.validate_tree(os.path.join(workdir, 'out'))
    assert problems == [] and count == 3, problems
    assert [d['kind'] for d in docs(workdir, 'metallb/metallb/objects.yaml')] == ['IPAddressPool', 'BGPPeer', 'BGPAdvertisement']


def test_a_pool_over_a_node_address_fails_before_anything_is_written(workdir):
    cluster = dict(BASE, cni={'plugin': 'none'},
                   metallb={'pools': [{'name': 'default', 'addresses': ['192.168.50.16/28']}]})
    r = run(workdir, cluster, nodes=NODES)
    assert r['rc'] != 0 and r['failed'] == 1
    assert 'nodenet_cluster.metallb.pools[0].addresses[0]: 192.168.50.16/28 overlaps w1 address 192.168.50.21' in r['out']
    assert not [f for f in files(workdir) if f.startswith('metallb/')]
