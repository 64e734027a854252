"""The cluster pre-flight and per-node state (plugins/plugin_utils/cluster.py) as data cases: no kernel, no Ansible run."""
import copy
import os

import pytest
import yaml

from ansible_collections.seed.nodenet.plugins.plugin_utils import cluster

with open(os.path.join(os.path.dirname(__file__), 'cases', 'cluster_preflight.yml')) as fh:
    DATA = yaml.safe_load(fh)


def merged(base, patch):
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for k, v in patch.items():
            out[k] = merged(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(patch)


def build(case):
    c = merged(DATA['base']['cluster'], case.get('cluster') or {})
    nodes = copy.deepcopy(DATA['base']['nodes'])
    for n in nodes:
        n.update(copy.deepcopy((case.get('nodes') or {}).get(n['name']) or {}))
    return nodes, c


def check_of(problem):
    return problem[1:problem.index(']')]


def test_base_is_clean():
    assert cluster.preflight(*build({})) == []


@pytest.mark.parametrize('case', DATA['cases'], ids=[c['name'] for c in DATA['cases']])
def test_preflight_case(case):
    problems = cluster.preflight(*build(case))
    assert sorted(set(check_of(p) for p in problems)) == sorted(case['expect']), problems
    for check, fragment in case['expect'].items():
        assert any(fragment in p for p in problems if check_of(p) == check), (check, fragment, problems)


def test_report_names_every_problem_once():
    case = DATA['cases'][-1]
    problems = cluster.preflight(*build(case))
    text = cluster.report(problems)
    assert text.startswith('cluster pre-flight found %d problem(s); nothing was applied' % len(problems))
    for p in problems:
        assert text.count(p) == 1


def test_defaults_fill_every_section():
    c = cluster.config({'domain': 'x.example', 'networks': [{'cidrs': ['10.0.0.0/24']}]})
    assert c['networks'][0] == {'name': 'network0', 'cidrs': ['10.0.0.0/24'], 'mtu': None, 'roles': ['controlplane', 'worker']}
    assert c['dns']['search_domains'] == ['x.example']
    assert c['mesh']['enabled'] is False and c['mesh']['link'] == 'wg0'
    assert c['rollout']['batch_size'] == 1
    assert cluster.config({'rollout': {'batch_size': 3}})['rollout']['rollback_timeout'] == 120


def test_batches_control_planes_first():
    nodes, c = build({})
    nodes = nodes[3:] + nodes[:3]      # inventory order does not matter
    assert cluster.batches(nodes, c) == [['cp1', 'cp2'], ['cp3', 'w1'], ['w2']]


def test_node_network_adds_hostname_hosts_and_resolver():
    nodes, c = build({})
    state = cluster.node_network('w1', nodes, c)
    assert state['addresses'] == nodes[3]['network']['addresses']
    assert state['hostname'] == {'hostname': 'w1.lab.example'}
    assert state['resolver'] == {'nameservers': ['192.168.50.1'], 'search_domains': ['lab.example']}
    entries = state['hosts']['entries']
    assert {'ip': '192.168.50.12', 'aliases': ['cp2.lab.example', 'cp2']} in entries
    assert {'ip': 'fd00:50::22', 'aliases': ['w2.lab.example', 'w2']} in entries
    assert len(entries) == 10


def test_node_mesh_peers_from_public_keys_only():
    nodes, c = build({})
    keys = {'cp1': 'A' * 43 + '=', 'cp2': 'B' * 43 + '=', 'w2': None}
    mesh = cluster.node_mesh('cp1', nodes, c, keys)
    assert mesh['addresses'] == [{'address': '10.250.0.11/24', 'link': 'wg0'}]
    link = mesh['wireguard'][0]
    assert link['private_key_file'] == '/etc/nodenet/wg0.key' and link['generate_key'] is True
    assert link['mtu'] == 1420
    assert link['peers'] == [{'public_key': 'B' * 43 + '=', 'endpoint': '192.168.50.12:51820',
                              'allowed_ips': ['10.250.0.12/32'], 'persistent_keepalive_interval': 25}]
    assert 'private_key' not in str(mesh).replace('private_key_file', '')


def test_gate_targets_rolled_out_nodes_over_each_network_and_the_mesh():
    nodes, c = build({})
    targets = cluster.gate_targets('cp3', nodes, c, ['cp1', 'cp2', 'cp3', 'w1'])
    assert {'node': 'cp1', 'via': 'nodes', 'address': '192.168.50.11'} in targets
    assert {'node': 'cp1', 'via': 'nodes', 'address': 'fd00:50::11'} in targets
    assert {'node': 'w1', 'via': 'mesh', 'address': '10.250.0.21'} in targets
    assert not [t for t in targets if t['node'] in ('cp3', 'w2')]
    assert len(targets) == 9


def test_firewall_vars_follow_the_role():
    nodes, c = build({})
    cp = cluster.firewall_vars('cp1', nodes, c)
    w = cluster.firewall_vars('w1', nodes, c)
    assert cp['firewall_node_role'] == 'controlplane' and w['firewall_node_role'] == 'worker'
    assert cp['firewall_cluster_subnets'] == ['192.168.50.0/24', 'fd00:50::/64']
    assert '192.168.50.13/32' in cp['firewall_controlplane_subnets']
    mesh = [r for r in cp['firewall_extra_rules'] if r['name'] == 'nodenet-mesh'][0]
    assert mesh['port_selector'] == {'protocol': 'udp', 'ports': [51820]}
