"""Firewall engine, pure parts: validation, compile, render <-> parse, status, evaluate, lock-out guard.

cases/firewall.yml holds compile cases as data; cases/firewall_listings.json holds what
`nft -j list table inet nodenet` (nftables 1.0.6) really printed for two policies, so
parsing the kernel's form is tested here without a kernel.
"""
import ipaddress
import json
import os

import pytest
import yaml

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import firewall as fw
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError

HERE = os.path.dirname(__file__)
with open(os.path.join(HERE, 'cases', 'firewall.yml')) as fh:
    CASES = yaml.safe_load(fh)
with open(os.path.join(HERE, 'cases', 'firewall_listings.json')) as fh:
    LISTINGS = json.load(fh)


def rule(name='r', proto='tcp', ports=(22,), ingress=None):
    ps = {'protocol': proto}
    if ports is not None:
        ps['ports'] = list(ports)
    return {'name': name, 'port_selector': ps, 'ingress': ingress if ingress is not None else [{'subnet': '10.0.0.0/8'}]}


BAD = [
    ({'default_action': 'deny'}, 'default_action', 'accept, block'),
    ({'state': 'gone'}, 'state', 'absent, present'),
    ({'colour': 1}, 'colour', 'unknown option'),
    ({'rules': 'x'}, 'rules', 'list of rules'),
    ({'rules': [rule(name='bad name')]}, 'rules[0].name', 'letters, digits'),
    ({'rules': [rule(name='a:b')]}, 'rules[0].name', 'letters, digits'),
    ({'rules': [rule(), rule()]}, 'rules[1].name', 'used twice'),
    ({'rules': [{'name': 'a', 'ingress': []}]}, 'rules[0].port_selector', 'protocol'),
    ({'rules': [rule(proto='sctp')]}, 'rules[0].port_selector.protocol', 'icmp, icmpv6, ipencap, tcp, udp, vrrp'),
    ({'rules': [rule(ports=[])]}, 'rules[0].port_selector.ports', 'need ports'),
    ({'rules': [rule(ports=None)]}, 'rules[0].port_selector.ports', 'need ports'),
    ({'rules': [rule(ports=[0])]}, 'rules[0].port_selector.ports[0]', 'allowed 1-65535'),
    ({'rules': [rule(ports=[22, 70000])]}, 'rules[0].port_selector.ports[1]', 'allowed 1-65535'),
    ({'rules': [rule(ports=['2000-1000'])]}, 'rules[0].port_selector.ports[0]', 'ends before it starts'),
    ({'rules': [rule(ports=['ssh'])]}, 'rules[0].port_selector.ports[0]', "range like '1000-2000'"),
    ({'rules': [rule(ports=[True])]}, 'rules[0].port_selector.ports[0]', 'boolean'),
    ({'rules': [rule(proto='icmp', ports=[1])]}, 'rules[0].port_selector.ports', 'only with tcp or udp'),
    ({'rules': [rule(ingress=[{'subnet': '10.0.0.1/8'}])]}, 'rules[0].ingress[0].subnet', 'host bits'),
    ({'rules': [rule(ingress=[{'subnet': 'ten'}])]}, 'rules[0].ingress[0].subnet', 'IPv4 or IPv6'),
    ({'rules': [rule(ingress=[{'except': '10.0.0.0/8'}])]}, 'rules[0].ingress[0].subnet', 'required'),
    ({'rules': [rule(ingress=[{'subnet': '10.0.0.0/8', 'except': '11.0.0.0/8'}])]},
     'rules[0].ingress[0].except', 'not inside subnet'),
    ({'rules': [rule(ingress=[{'subnet': '10.0.0.0/8', 'except': '::/0'}])]},
     'rules[0].ingress[0].except', 'not inside subnet'),
    ({'rules': [rule(ingress=[{'subnet': '10.0.0.0/8', 'except': ['10.1.0.0/16', 'x']}])]},
     'rules[0].ingress[0].except[1]', 'IPv4 or IPv6'),
    ({'rules': [rule(proto='icmp', ports=None, ingress=[{'subnet': '::/0'}])]}, 'rules[0].ingress[0].subnet', 'icmpv6'),
    ({'rules': [rule(proto='icmpv6', ports=None, ingress=[{'subnet': '0.0.0.0/0'}])]}, 'rules[0].ingress[0].subnet', 'use protocol icmp'),
    ({'rules': [dict(rule(), colour='red')]}, 'rules[0].colour', 'unknown option'),
    ({'state': 'absent', 'rules': [rule()]}, 'rules', 'state=absent'),
]


@pytest.mark.parametrize('params,field,text', BAD, ids=['%d-%s' % (i, b[1]) for i, b in enumerate(BAD)])
def test_bad_input_names_field(params, field, text):
    with pytest.raises(ValidationError) as exc:
        fw.normalize(params)
    assert exc.value.field == field
    assert text in str(exc.value)


def test_where_prefixes_fields_for_the_network_module():
    with pytest.raises(ValidationError) as exc:
        fw.normalize({'rules': [rule(ports=[0])]}, where='firewall')
    assert exc.value.field == 'firewall.rules[0].port_selector.ports[0]'


def test_ports_and_sources_are_normalised():
    m = fw.normalize({'rules': [rule(ports=['30000-32767', 22, '22', 80, '81-90', ' 91 '], ingress=[
        {'subnet': '10.0.0.0/24'}, {'subnet': '10.0.1.0/24'}, {'subnet': '192.0.2.9'},
        {'subnet': '2001:db8::/32', 'except': ['2001:db8::/33']}])]})
    r = m['rules'][0]
    assert r['ports'] == [[22, 22], [80, 91], [30000, 32767]]
    assert r['allowed'] == {4: ['10.0.0.0/23', '192.0.2.9/32'], 6: ['2001:db8:8000::/33']}


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_compile_case(case):
    table = fw.compile_model(fw.normalize(case['params']))
    assert table['chain'] == {'type': 'filter', 'hook': 'input', 'prio': -140, 'policy': case['policy']}
    lines = [fw.format_rule(r) for r in table['rules']]
    if case.get('skip_preamble'):
        lines = [ln for ln in lines if 'nodenet:' not in ln]
    assert lines == case['rules']


def test_absent_compiles_to_no_table_and_a_delete_only_batch():
    assert fw.compile_model(fw.normalize({'state': 'absent'})) is None
    batch = fw.render_batch(None)['nftables']
    assert [list(o)[0] for o in batch] == ['metainfo', 'add', 'delete']


def test_batch_replaces_only_our_table_in_one_transaction():
    batch = fw.render_batch(fw.compile_model(fw.normalize({'default_action': 'block', 'rules': [rule()]})))['nftables']
    assert batch[1:4] == [{'add': {'table': {'family': 'inet', 'name': 'nodenet'}}},
                          {'delete': {'table': {'family': 'inet', 'name': 'nodenet'}}},
                          {'add': {'table': {'family': 'inet', 'name': 'nodenet'}}}]
    for obj in batch[1:]:
        body = list(obj.values())[0]
        target = list(body.values())[0]
        assert target['family'] == 'inet' and target.get('table', target.get('name')) == 'nodenet'


@pytest.mark.parametrize('name', sorted(LISTINGS))
def test_kernel_listing_parses_to_what_was_compiled(name):
    """Idempotence: the kernel's own form of the table normalises to exactly the desired form."""
    params = LISTINGS[name]['params']
    table, stats = fw.parse_table(LISTINGS[name]['listing'])
    assert table == fw.compile_model(fw.normalize(params))
    assert len(stats) == len(table['rules']) and all(s == {'packets': 0, 'bytes': 0} for s in stats)


@pytest.mark.parametrize('name', sorted(LISTINGS))
def test_render_then_parse_round_trips(name):
    table = fw.compile_model(fw.normalize(LISTINGS[name]['params']))
    for r in table['rules']:
        parsed = fw.parse_rule({'comment': r['comment'], 'expr': fw.render_rule(r)})[0]
        assert parsed == r


def test_foreign_content_in_our_table_is_a_difference():
    listing = json.loads(json.dumps(LISTINGS['accept']['listing']))
    listing['nftables'].append({'rule': {'family': 'inet', 'table': 'nodenet', 'chain': 'ingress', 'handle': 99,
                                         'expr': [{'match': {'op': '==', 'left': {'meta': {'key': 'mark'}}, 'right': 1}},
                                                  {'accept': None}]}})
    listing['nftables'].append({'chain': {'family': 'inet', 'table': 'nodenet', 'name': 'extra', 'handle': 9}})
    table = fw.parse_table(listing)[0]
    assert table != fw.compile_model(fw.normalize(LISTINGS['accept']['params']))
    assert table['extra'] == ['chain extra']
    assert 'mark' in table['rules'][-1]['other'][0]


def test_kernel_forms_of_sets_normalise_alike():
    """One-element sets print as values, prefixes as ranges, /32 as a bare address."""
    a = fw.parse_rule({'expr': [
        {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}},
                   'right': {'set': [{'range': ['10.0.0.0', '10.0.0.255']}, '10.0.1.0', {'prefix': {'addr': '10.0.1.1', 'len': 32}}]}}},
        {'match': {'op': '==', 'left': {'payload': {'protocol': 'udp', 'field': 'dport'}}, 'right': 53}},
        {'counter': {'packets': 3, 'bytes': 180}}, {'accept': None}]})[0]
    assert a == {'nfproto': 'ipv4', 'saddr': {'op': '==', 'set': ['10.0.0.0/24', '10.0.1.0/31']},
                 'l4proto': 'udp', 'dport': [[53, 53]], 'verdict': 'accept'}


def test_status_reads_like_the_input():
    listing = LISTINGS['block']['listing']
    table, stats = fw.parse_table(listing)
    st = fw.status(table, stats, ['ip filter'])
    assert st['default_action'] == 'block' and st['present'] and st['other_tables'] == ['ip filter']
    by = dict((r['name'], r) for r in st['rules'])
    assert [r['name'] for r in st['rules']] == ['ssh', 'kubelet', 'dns', 'ping', 'ping6']   # 'nobody' allows no one
    assert by['ssh']['ingress'] == [{'subnet': '0.0.0.0/0'}, {'subnet': '::/0'}]
    assert by['kubelet']['port_selector'] == {'protocol': 'tcp', 'ports': ['7000-7100', 10250]}
    assert by['kubelet']['ingress'] == [{'subnet': '10.0.0.0/8', 'except': ['10.1.2.3/32']},
                                        {'subnet': 'fd00::/8', 'except': ['fd00::1/128', 'fd00::2/127']}]
    assert by['dns']['ingress'] == [{'subnet': '192.0.2.7/32'}]
    assert by['ping6']['port_selector'] == {'protocol': 'icmpv6', 'ports': []}
    acc = fw.status(*fw.parse_table(LISTINGS['accept']['listing']))
    assert acc['default_action'] == 'accept'
    # accept mode: a family without subnets is dropped entirely, so no IPv6 source is listed for kubelet
    assert [r['ingress'] for r in acc['rules'] if r['name'] == 'kubelet'] == [[{'subnet': '10.0.0.0/8', 'except': ['10.1.2.3/32']}]]
    assert [r['ingress'] for r in acc['rules'] if r['name'] == 'any'] == []   # both families open: no rule installed
    assert fw.status(None)['present'] is False


@pytest.mark.parametrize('cidrs,expected', [
    ([], []),
    (['10.0.0.0/23'], [{'subnet': '10.0.0.0/23'}]),
    (['10.0.0.0/24', '10.0.2.0/24'], [{'subnet': '10.0.0.0/24'}, {'subnet': '10.0.2.0/24'}]),
    (fw._cidrs(fw._subtract([(0, 2 ** 32 - 1)], [(167772160, 184549375)]), 4), [{'subnet': '0.0.0.0/0', 'except': ['10.0.0.0/8']}]),
])
def test_compact(cidrs, expected):
    assert fw.compact(cidrs) == expected


def table_for(params):
    return fw.compile_model(fw.normalize(params))


EVAL = [
    # (params, src, proto, port, extra, verdict, why)
    ({'default_action': 'block'}, '10.0.0.5', 'tcp', 22, {}, 'drop', 'default action'),
    ({'default_action': 'block'}, '10.0.0.5', 'tcp', 22, {'ct_state': 'established'}, 'accept', 'nodenet:established'),
    ({'default_action': 'block'}, '10.0.0.5', 'tcp', 22, {'iifname': 'lo'}, 'accept', 'nodenet:loopback'),
    ({'default_action': 'block', 'rules': [rule(ingress=[{'subnet': '10.0.0.0/8', 'except': '10.0.0.5'}])]},
     '10.0.0.5', 'tcp', 22, {}, 'drop', 'default action'),
    ({'default_action': 'block', 'rules': [rule(ingress=[{'subnet': '10.0.0.0/8', 'except': '10.0.0.5'}])]},
     '10.0.0.6', 'tcp', 22, {}, 'accept', 'r'),
    ({'default_action': 'block', 'rules': [rule(ingress=[{'subnet': '10.0.0.0/8'}])]}, 'fd00::1', 'tcp', 22, {}, 'drop', 'default action'),
    ({'default_action': 'block', 'rules': [rule(ingress=[{'subnet': '::/0'}])]}, 'fd00::1', 'tcp', 22, {}, 'accept', 'r'),
    ({'default_action': 'block', 'rules': [rule(proto='udp')]}, '10.0.0.5', 'tcp', 22, {}, 'drop', 'default action'),
    ({'default_action': 'block', 'rules': [rule(ports=['20-30'])]}, '10.0.0.5', 'tcp', 31, {}, 'drop', 'default action'),
    ({'default_action': 'accept', 'rules': [rule()]}, '192.0.2.1', 'tcp', 22, {}, 'drop', 'r'),
    ({'default_action': 'accept', 'rules': [rule()]}, '10.9.9.9', 'tcp', 22, {}, 'accept', 'default action'),
    ({'default_action': 'accept', 'rules': [rule()]}, '2001:db8::1', 'tcp', 22, {}, 'drop', 'r'),
    ({'default_action': 'accept', 'rules': [rule()]}, '2001:db8::1', 'tcp', 23, {}, 'accept', 'default action'),
    ({'default_action': 'accept', 'rules': [rule(ingress=[{'subnet': '0.0.0.0/0'}, {'subnet': '::/0'}])]},
     '2001:db8::1', 'tcp', 22, {}, 'accept', 'default action'),
]


@pytest.mark.parametrize('params,src,proto,port,extra,verdict,why', EVAL)
def test_evaluate(params, src, proto, port, extra, verdict, why):
    assert fw.evaluate(table_for(params), src, proto, port, **extra) == (verdict, why)


@pytest.mark.parametrize('env,expected', [
    ({'SSH_CONNECTION': '192.0.2.50 51234 192.0.2.10 22'}, {'client': '192.0.2.50', 'port': 22, 'variable': 'SSH_CONNECTION'}),
    ({'SSH_CONNECTION': '::ffff:192.0.2.50 51234 ::ffff:192.0.2.10 2222'}, {'client': '192.0.2.50', 'port': 2222, 'variable': 'SSH_CONNECTION'}),
    ({'SSH_CONNECTION': 'fe80::1%eth0 51234 fe80::2%eth0 22'}, {'client': 'fe80::1', 'port': 22, 'variable': 'SSH_CONNECTION'}),
    ({'SSH_CLIENT': '2001:db8::5 40000 22'}, {'client': '2001:db8::5', 'port': 22, 'variable': 'SSH_CLIENT'}),
    ({'SSH_CONNECTION': 'garbage'}, None),
    ({}, None),
])
def test_ssh_connection_from_environment(env, expected):
    assert fw.ssh_connection(env) == expected


def test_lockout_guard_explains_and_spares_loopback():
    ssh = fw.ssh_connection({'SSH_CONNECTION': '192.0.2.50 51234 192.0.2.10 22'})
    msg = fw.lockout(table_for({'default_action': 'block'}), ssh)
    assert '192.0.2.50' in msg and 'port 22' in msg and 'allow_lockout' in msg and 'default action is block' in msg
    msg = fw.lockout(table_for({'rules': [rule(ingress=[{'subnet': '10.0.0.0/8'}])]}), ssh)
    assert "rule 'r' drops tcp port 22 from 192.0.2.50" in msg
    ok = table_for({'default_action': 'block', 'rules': [rule(ingress=[{'subnet': '192.0.2.0/24'}])]})
    assert fw.lockout(ok, ssh) is None
    assert fw.lockout(table_for({'default_action': 'block'}), fw.ssh_connection({'SSH_CLIENT': '127.0.0.1 1 22'})) is None
    assert fw.lockout(None, ssh) is None
    assert fw.lockout(table_for({'default_action': 'block'}), None) is None


def test_evaluate_agrees_with_set_membership_for_random_sources():
    """The evaluator and the compiled sets agree for many addresses (a property check, fixed seed)."""
    import random
    rnd = random.Random(7)
    params = {'default_action': 'block', 'rules': [rule(ingress=[
        {'subnet': '10.0.0.0/8', 'except': ['10.128.0.0/9', '10.1.2.3']}, {'subnet': '192.168.0.0/16'}])]}
    table = table_for(params)
    for i in range(300):
        a = ipaddress.ip_address(rnd.choice([rnd.randrange(2 ** 32), 167772160 + rnd.randrange(2 ** 24)]))
        inside = (a in ipaddress.ip_network('10.0.0.0/8') and a not in ipaddress.ip_network('10.128.0.0/9')
                  and str(a) != '10.1.2.3') or a in ipaddress.ip_network('192.168.0.0/16')
        assert fw.evaluate(table, a, 'tcp', 22)[0] == ('accept' if inside else 'drop'), a


def test_vrrp_renders_by_number_and_reads_back_by_name_or_number():
    """nft prints protocol 112 as 'vrrp' only where /etc/protocols names it; both forms are the same rule."""
    table = fw.compile_model(fw.normalize({'default_action': 'block', 'rules': [
        rule(name='vrrp', proto='vrrp', ports=None, ingress=[{'subnet': '192.168.50.0/24'}])]}))
    ours = [r for r in table['rules'] if r['comment'] == 'vrrp']
    expr = fw.render_rule(ours[0])
    assert {'match': {'op': '==', 'left': {'meta': {'key': 'l4proto'}}, 'right': 112}} in expr
    for shown in ('vrrp', 112, '112'):
        listed = [{'match': dict(e['match'], right=shown)} if 'match' in e and e['match']['left'] == {'meta': {'key': 'l4proto'}}
                  else e for e in expr]
        parsed, dummy = fw.parse_rule({'comment': 'vrrp', 'expr': listed})
        assert parsed == ours[0]
    assert fw.evaluate(table, '192.168.50.7', 'vrrp')[0] == 'accept'
    assert fw.evaluate(table, '192.168.51.7', 'vrrp')[0] == 'drop'
    with pytest.raises(ValidationError) as err:
        fw.normalize({'rules': [rule(proto='vrrp', ports=[112])]})
    assert err.value.field == 'rules[0].port_selector.ports'
