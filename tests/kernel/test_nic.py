"""Kernel tier: NIC tuning (channels, rings, features) through pyroute2's ethtool support, on veth links made
with several queues (veth supports channel and offload changes, and has no rings: the refusal case)."""
import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import nic
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import in_netns

from conftest import sh


@pytest.fixture
def veth(netns):
    """v0/v1, four rx and four tx queues each (the link kind creates single-queue veths)."""
    sh('ip', '-n', netns, 'link', 'add', 'v0', 'numtxqueues', '4', 'numrxqueues', '4', 'type', 'veth', 'peer', 'name', 'v1',
       'numtxqueues', '4', 'numrxqueues', '4')
    return netns


def ethtool(netns, name):
    """The NIC as the kernel reports it (ETHTOOL_GCHANNELS / GFEATURES), read outside the engine's plan."""
    return in_netns(netns, lambda: nic.read_link(name))


def test_channels_and_features_set_idempotent_and_shown(apply, veth):
    tune = {'name': 'v0', 'channels': {'rx': 2, 'tx': 3}, 'features': {'gro': True, 'tso': False}}
    r = apply({'link': [dict(tune)]}, check_mode=True, diff_mode=True)
    assert r['operations'] == ['modify nic v0'] and ethtool(veth, 'v0')['channels']['rx'] == 4
    assert '"rx": 2' in r['diff'][0]['after'] and '"rx": 4' in r['diff'][0]['before']
    r = apply({'link': [dict(tune)]})
    assert r['operations'] == ['modify nic v0']
    now = ethtool(veth, 'v0')
    assert (now['channels']['rx'], now['channels']['tx']) == (2, 3)
    assert now['features']['rx-gro'] is True and now['features']['tx-tcp-segmentation'] is False
    assert ethtool(veth, 'v1')['channels']['rx'] == 4          # the peer is left alone
    assert apply({'link': [dict(tune)]})['changed'] is False
    shown = [n for n in gather(veth, resources=('nics',))['nics'] if n['link'] == 'v0'][0]
    assert shown['driver'] == 'veth' and shown['channels_max']['rx'] == 4 and shown['channels']['tx'] == 3


@pytest.mark.parametrize('tune, field, words', [
    ({'channels': {'rx': 9}}, 'channels.rx', ['above the maximum 4', "driver 'veth'"]),
    ({'channels': {'combined': 2}}, 'channels.combined', ["driver 'veth'", 'no combined channels']),
    ({'rings': {'rx': 512}}, 'rings', ["driver 'veth'", 'does not support changing rings']),
    ({'features': {'no-such-offload': True}}, 'features.no-such-offload', ['no offload named']),
    ({'features': {'tx-checksum-ipv4': True}}, 'features.tx-checksum-ipv4', ["fixed off by driver 'veth'"]),
])
def test_what_the_driver_cannot_do_fails_before_anything_is_touched(apply, veth, tune, field, words):
    before = ethtool(veth, 'v0')
    with pytest.raises(ValidationError) as exc:
        apply({'link': [dict({'name': 'v0', 'up': True, 'channels': {'rx': 1}}, **tune)]})
    assert exc.value.field == field
    for w in words:
        assert w in str(exc.value)
    assert ethtool(veth, 'v0') == before
    assert 'UP' not in sh('ip', '-n', veth, 'link', 'show', 'v0').stdout.split('>')[0]


def test_a_failed_run_puts_the_queues_and_offloads_back(apply, veth):
    before = ethtool(veth, 'v0')
    with pytest.raises(ApplyError) as exc:
        apply({'link': [{'name': 'v0', 'channels': {'rx': 1}, 'features': {'gso': False}}],
               'address': [{'address': '192.0.2.1/24', 'link': 'v0'}]}, fail_after=1)
    assert 'rolled back' in str(exc.value)
    assert ethtool(veth, 'v0') == before


def test_tuning_a_link_made_in_the_same_run_and_its_limit_checked_then(apply, netns, ip):
    # a veth made here gets the kernel's default queue count (one per CPU): its limit is known only once it
    # exists, so a count above it fails when applied and the new link is removed
    apply({'link': [{'name': 'n0', 'kind': 'veth', 'peer': 'n1', 'channels': {'rx': 1}, 'features': {'gro': True}}]})
    made = ethtool(netns, 'n0')
    assert made['features']['rx-gro'] is True and made['channels']['rx'] == 1
    top = made['channels_max']['rx']
    with pytest.raises(ApplyError) as exc:
        apply({'link': [{'name': 'm0', 'kind': 'veth', 'peer': 'm1', 'channels': {'rx': top + 1}}]})
    assert 'above the maximum %d' % top in str(exc.value) and 'rolled back' in str(exc.value)
    assert [x['ifname'] for x in ip('link', 'show') if x['ifname'].startswith('m')] == []


def test_network_module_links_take_the_tuning(veth):
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
    spec = {'links': [{'name': 'v0', 'up': True, 'channels': {'rx': 3}}, {'name': 'v1', 'features': {'rx-gro': True}}]}
    r = network.converge({'links': [dict(x) for x in spec['links']]}, netns=veth)
    assert 'modify nic v0' in r['operations'] and 'modify nic v1' in r['operations']
    assert ethtool(veth, 'v0')['channels']['rx'] == 3 and ethtool(veth, 'v1')['features']['rx-gro'] is True
    assert network.converge({'links': [dict(x) for x in spec['links']]}, netns=veth)['changed'] is False
