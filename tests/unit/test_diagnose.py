"""The diagnose checklist (plugins/plugin_utils/diagnose.py) on data cases (cases/diagnose.yml): a healthy
cluster's evidence reports all green; each fault fails exactly the checks the case names and no other; the
probe targets and the console table."""
import copy
import os

import pytest
import yaml

from ansible_collections.seed.nodenet.plugins.plugin_utils import diagnose as d

HERE = os.path.dirname(__file__)
with open(os.path.join(HERE, 'cases', 'diagnose.yml')) as fh:
    DATA = yaml.safe_load(fh)


def put(obj, path, value):
    parts = path.split('.')
    for p in parts[:-1]:
        obj = obj[int(p)] if isinstance(obj, list) else obj[p]
    last = parts[-1]
    if isinstance(obj, list):
        obj[int(last)] = value
    elif value is None:
        obj.pop(last, None)
    else:
        obj[last] = value


def run(case):
    data = copy.deepcopy(DATA['base'])
    data.setdefault('k8s', None)
    for path, value in (case.get('set') or {}).items():
        put(data, path, copy.deepcopy(value))
    return d.evaluate(data['cluster'], data['nodes'], data['evidence'], data['k8s'], data['api_ports'])


def findings(report, where):
    return report['cluster'] if where == 'cluster' else report['nodes'][where]


@pytest.mark.parametrize('case', DATA['cases'], ids=[c['name'] for c in DATA['cases']])
def test_case(case):
    report = run(case)
    got = sorted(set((w, c) for w, c, m in d.failed(report)))
    assert got == sorted(tuple(x) for x in case['failed']), '\n'.join(d.table(report))
    assert report['summary']['status'] == ('fail' if case['failed'] else 'ok')
    for where, checks in (case.get('message') or {}).items():
        for check, text in checks.items():
            msgs = [f['message'] for f in findings(report, where) if f['check'] == check and f['status'] == 'fail']
            assert any(text in m for m in msgs), msgs
    for where, checks in (case.get('warned') or {}).items():
        for check, text in checks.items():
            assert any(text in f['message'] for f in findings(report, where) if f['check'] == check and f['status'] == 'warn')
    for where, checks in (case.get('status') or {}).items():
        for check, status in checks.items():
            assert [f['status'] for f in findings(report, where) if f['check'] == check] == [status]


def test_healthy_is_all_green_and_every_check_is_there():
    report = run({})
    table = d.table(report)
    assert table[0].startswith('nodenet diagnose: all green')
    for node in ('cp1', 'cp2'):
        assert [f['check'] for f in report['nodes'][node]] == list(d.NODE_CHECKS)
    assert 'api' not in [f['check'] for f in report['nodes']['w1']]          # workers serve no API
    assert [f['status'] for f in report['nodes']['w1'] if f['check'] == 'nat'] == ['skip']   # no CNI here yet
    assert [f['status'] for f in report['nodes']['w1'] if f['check'] == 'drift'] == ['skip']
    assert [f['check'] for f in report['cluster']] == list(d.CLUSTER_CHECKS)
    assert 'SKIP cluster cni-pods: no kubeconfig given' in '\n'.join(table)


def test_table_names_the_failure_with_its_evidence():
    case = [c for c in DATA['cases'] if c['name'].startswith('MTU lowered')][0]
    table = d.table(run(case))
    assert table[0].startswith('nodenet diagnose: FAIL (')
    row = [line for line in table if line.startswith('w1 ')][0].split()
    assert row[d.NODE_CHECKS.index('mtu') + 1] == 'FAIL' and row[d.NODE_CHECKS.index('dns') + 1] == 'ok'
    assert any(line.startswith('FAIL w1 mtu: ') and 'w1 -> cp1 192.168.70.11 (nodes): a 1472-byte ping with DF set is lost' in line
               for line in table)


def test_targets_every_other_node_at_the_network_mtu():
    base = DATA['base']
    cluster = dict(base['cluster'], networks=[{'name': 'nodes', 'cidrs': ['192.168.70.0/24', 'fd00:70::/64'], 'mtu': 9000}])
    facts = copy.deepcopy(dict((h, e['facts']) for h, e in base['evidence'].items()))
    facts['cp1']['addresses'].append({'address': 'fd00:70::11/64', 'link': 'eth0'})
    facts['cp2']['addresses'].append({'address': 'fd00:70::12/64', 'link': 'eth0'})
    facts['w1']['resolvers'] = {'nameservers': ['192.168.70.1', '192.168.70.53']}
    t = d.targets('w1', base['nodes'], cluster, facts, [6443, 50000])
    assert t['dns_servers'] == ['192.168.70.1', '192.168.70.53'] and t['dns_name'] == 'w1.lab.example'
    assert sorted((p['node'], p['address'], p['size']) for p in t['paths']) == [
        ('cp1', '192.168.70.11', 8972), ('cp2', '192.168.70.12', 8972)]      # w1 has no IPv6: no IPv6 path
    assert sorted((a['node'], a['port']) for a in t['api']) == [('cp1', 6443), ('cp1', 50000), ('cp2', 6443), ('cp2', 50000)]
    t = d.targets('cp1', base['nodes'], cluster, facts, [6443])
    assert sorted((p['node'], p['family'], p['size']) for p in t['paths']) == [
        ('cp2', 4, 8972), ('cp2', 6, 8952), ('w1', 4, 8972)]
    assert [a['node'] for a in t['api']] == ['cp2', 'cp2']                     # its own API is probed by the others


def test_targets_fall_back_to_declared_addresses():
    base = DATA['base']
    t = d.targets('cp1', base['nodes'], base['cluster'], {}, [])
    assert sorted(p['address'] for p in t['paths']) == ['192.168.70.12', '192.168.70.21']
    assert t['api'] == []


def test_nft_masquerade_and_chains_parsed():
    nft = ('table ip nat {\n\tchain POSTROUTING {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n'
           '\t\tip saddr { 10.244.0.0/16, 10.245.0.0/16 } masquerade\n\t}\n}\n'
           'table inet f {\n\tset s {\n\t\ttype ipv4_addr\n\t}\n\tchain o {\n\t\ttype filter hook output priority 0; policy drop;\n\t}\n}\n')
    assert d.masquerade_rules(nft, None) == [('ip saddr { 10.244.0.0/16, 10.245.0.0/16 } masquerade', ['10.244.0.0/16', '10.245.0.0/16'])]
    chains = d._nft_chains(nft)
    assert [(c['name'], c['hook'], c['policy']) for c in chains] == [('POSTROUTING', 'postrouting', 'accept'), ('o', 'output', 'drop')]


def test_targets_over_the_mesh_at_the_mesh_link_mtu():
    base = DATA['base']
    cluster = dict(base['cluster'], mesh={'enabled': True, 'link': 'wg0', 'cidrs': ['10.250.0.0/24']})
    facts = copy.deepcopy(dict((h, e['facts']) for h, e in base['evidence'].items()))
    mesh = [p for p in d.targets('w1', base['nodes'], cluster, facts, [])['paths'] if p['via'] == 'mesh']
    assert sorted((p['node'], p['address'], p['mtu'], p['size']) for p in mesh) == [
        ('cp1', '10.250.0.11', 1420, 1392), ('cp2', '10.250.0.12', 1420, 1392)]      # 1500 - 80 for WireGuard
    facts['w1']['links'].append({'name': 'wg0', 'mtu': 1380})
    mesh = [p for p in d.targets('w1', base['nodes'], cluster, facts, [])['paths'] if p['via'] == 'mesh']
    assert set(p['size'] for p in mesh) == {1352}                                   # what the link really has
