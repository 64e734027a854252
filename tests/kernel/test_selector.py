"""Kernel tier: NICs chosen by what they are (links[].selector). The NICs are veths in a fresh
namespace: a veth reports driver 'veth' through ethtool and has a hardware_addr, but no
permanent_addr, bus_path or kernel_driver (no parent device); those three are matched in the unit
planner cases (tests/unit/cases/planner.yml) and read here only to check they come back empty."""
import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather

from conftest import sh


def run(netns, spec, **kw):
    return network.converge(spec, netns=netns, **kw)


@pytest.fixture
def nics(netns):
    """Two veth pairs with known MACs: en1 (02:aa:00:00:00:01) and en2 (02:bb:00:00:00:02)."""
    for name, peer, mac in (('en1', 'p1', '02:aa:00:00:00:01'), ('en2', 'p2', '02:bb:00:00:00:02')):
        sh('ip', '-n', netns, 'link', 'add', name, 'address', mac, 'type', 'veth', 'peer', 'name', peer)
    return netns


def links(netns):
    return dict((l['name'], l) for l in gather(netns)['links'])


def test_link_status_shows_the_hardware_facts(nics):
    en1 = links(nics)['en1']
    assert en1['driver'] == 'veth' and en1['hardware_addr'] == '02:aa:00:00:00:01'
    assert en1['permanent_addr'] is None and en1['bus_path'] is None and en1['kernel_driver'] is None


def test_selected_nic_renamed_configured_and_idempotent(nics):
    spec = {'links': [{'selector': {'hardware_addr': '02:AA:*', 'driver': 'veth'}, 'name': 'uplink', 'mtu': 1400, 'up': True}],
            'addresses': [{'address': '192.0.2.5/24', 'link': 'uplink'}]}
    check = run(nics, spec, check_mode=True, diff_mode=True)
    assert check['changed'] and check['operations'][0] == 'modify link uplink'
    assert "name: en1" in check['diff'][0]['before'] and "name: uplink" in check['diff'][0]['after']
    assert 'en1' in links(nics)            # check mode touched nothing
    r = run(nics, spec)
    assert r['changed']
    now = links(nics)
    assert 'en1' not in now and now['uplink']['mtu'] == 1400 and now['uplink']['up']
    assert now['uplink']['hardware_addr'] == '02:aa:00:00:00:01'
    assert '192.0.2.5' in sh('ip', '-n', nics, '-4', 'addr', 'show', 'dev', 'uplink').stdout
    again = run(nics, spec)
    assert again['changed'] is False and again['operations'] == []


def test_selector_without_name_configures_the_nic_in_place(nics):
    r = run(nics, {'links': [{'selector': {'hardware_addr': '02:bb:00:00:00:02'}, 'mtu': 1300}]})
    assert r['operations'] == ['modify link en2']
    assert links(nics)['en2']['mtu'] == 1300


def test_rename_rolled_back_when_a_later_step_fails(nics):
    before = links(nics)
    with pytest.raises(NodenetError) as e:
        run(nics, {'links': [{'selector': {'hardware_addr': '02:aa:*'}, 'name': 'uplink', 'up': True}]}, fail_after=1)
    assert 'rolled back' in str(e.value)
    after = links(nics)
    assert set(after) == set(before) and after['en1']['up'] == before['en1']['up']


@pytest.mark.parametrize('sel, words', [
    ({'driver': 'veth'}, ['links[0].selector', 'matches 4 links', 'en1', 'en2', 'p1', 'p2']),
    ({'hardware_addr': '02:cc:*'}, ['links[0].selector', 'no link matches', 'en1 (hardware_addr=02:aa:00:00:00:01)']),
    ({'permanent_addr': '*'}, ['links[0].selector', 'no link matches', 'permanent_addr=-']),
])
def test_bad_selector_fails_naming_it_and_touches_nothing(nics, sel, words):
    before = links(nics)
    with pytest.raises(NodenetError) as e:
        run(nics, {'links': [{'selector': sel, 'name': 'uplink', 'mtu': 1400}]})
    msg = '%s: %s' % (e.value.field, e.value)
    for w in words:
        assert w in msg
    assert links(nics) == before
