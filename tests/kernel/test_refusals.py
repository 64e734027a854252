"""Kernel tier: inputs the kernel would refuse half way are refused before anything is touched,
naming the field - and the namespace's full `ip -d -j` dumps are the same afterwards."""
import json

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network, runner
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, NodenetError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common as filecommon
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import hosts as hosts_file

from conftest import sh

BASE = {'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'mtu': 1500, 'up': True},
                  {'name': 'vx1', 'kind': 'vxlan', 'vni': 10, 'local': '192.0.2.10', 'remote': '192.0.2.20'}],
        'addresses': [{'address': '192.0.2.10/24', 'link': 'eth0'}]}


@pytest.fixture
def node(netns):
    network.converge(json.loads(json.dumps(BASE)), netns=netns)
    return netns


@pytest.fixture
def dump(node):
    """Everything `ip -d -j` shows of the namespace (links, addresses, routes of every table, rules)."""
    def snap():
        out = {}
        for what in (['link'], ['addr'], ['-4', 'route', 'show', 'table', 'all'], ['-6', 'route', 'show', 'table', 'all'],
                     ['rule']):
            out[' '.join(what)] = json.loads(sh('ip', '-d', '-j', '-n', node, *what).stdout or '[]')
        return out
    return snap


def refused(dump, call, field, words):
    before = dump()
    with pytest.raises(NodenetError) as exc:
        call()
    e = exc.value
    assert not isinstance(e, ApplyError), 'refused only after touching the node: %s' % e
    assert e.field == field, str(e)
    for w in words:
        assert w in str(e), str(e)
    assert dump() == before
    return str(e)


def test_macvlan_mtu_above_its_parent_in_the_link_module(node, dump):
    refused(dump, lambda: runner.converge({'link': [{'name': 'mv0', 'kind': 'macvlan', 'parent': 'eth0', 'mtu': 9000}]}, netns=node),
            'mtu', ["parent 'eth0' has MTU 1500", 'at most 1500'])


def test_route_source_that_is_not_an_address_of_the_node(node, dump):
    refused(dump, lambda: runner.converge({'route': [{'destination': '198.51.100.0/24', 'gateway': '192.0.2.1',
                                                      'source': '192.0.2.99'}]}, netns=node),
            'source', ['192.0.2.99 is not an address of this node'])
    refused(dump, lambda: network.converge({'routes': [{'destination': '198.51.100.0/24', 'gateway': '192.0.2.1',
                                                        'source': '192.0.2.99'}]}, netns=node),
            'routes[0].source', ['192.0.2.99'])
    # an address declared in the same state is one of the node's
    r = network.converge({'addresses': [{'address': '192.0.2.99/24', 'link': 'eth0'}],
                          'routes': [{'destination': '198.51.100.0/24', 'gateway': '192.0.2.1', 'source': '192.0.2.99'}]}, netns=node)
    assert r['changed']


def test_two_veths_with_one_peer_name(node, dump):
    refused(dump, lambda: network.converge({'links': [{'name': 'a0', 'kind': 'veth', 'peer': 'p0'},
                                                      {'name': 'b0', 'kind': 'veth', 'peer': 'p0'}]}, netns=node),
            'links[1].peer', ["'p0' is already the peer named at links[0].peer"])


def test_a_peer_name_another_declared_link_creates(node, dump):
    refused(dump, lambda: network.converge({'links': [{'name': 'a0', 'kind': 'veth', 'peer': 'd0'},
                                                      {'name': 'd0', 'kind': 'macvlan', 'parent': 'eth0'}]}, netns=node),
            'links[0].peer', ["'d0' is the name of another declared link (links[1])"])
    refused(dump, lambda: network.converge({'links': [{'name': 'a0', 'kind': 'veth', 'peer': 'br9'}],
                                            'bridges': [{'name': 'br9'}]}, netns=node),
            'bridges[0].name', ["'br9' is declared twice (also at links[0].peer)"])
    # an entry without kind for the peer sets its options: allowed
    assert network.converge({'links': [{'name': 'a0', 'kind': 'veth', 'peer': 'a1'}, {'name': 'a1', 'mtu': 1400}]},
                            netns=node)['changed']


def test_vxlan_reusing_an_existing_vni_and_port(node, dump):
    refused(dump, lambda: runner.converge({'link': [{'name': 'vx2', 'kind': 'vxlan', 'vni': 10, 'remote': '192.0.2.30'}]}, netns=node),
            'vni', ['VNI 10 on UDP port 4789 (IPv4) is in use: link vx1 exists with it'])
    refused(dump, lambda: network.converge({'links': [{'name': 'vx2', 'kind': 'vxlan', 'vni': 11, 'remote': '192.0.2.30'},
                                                      {'name': 'vx3', 'kind': 'vxlan', 'vni': 11, 'remote': '192.0.2.31'}]}, netns=node),
            'links[1].vni', ['links[0] declares it'])
    # another port is another VXLAN
    assert runner.converge({'link': [{'name': 'vx2', 'kind': 'vxlan', 'vni': 10, 'port': 4790, 'remote': '192.0.2.30'}]},
                           netns=node)['changed']


def test_wireguard_link_without_any_private_key(node, dump):
    refused(dump, lambda: runner.converge({'wireguard': [{'name': 'wg0', 'listen_port': 51820}]}, netns=node),
            'private_key_file', ['needs its private key', 'generate_key'])
    refused(dump, lambda: network.converge({'wireguard': [{'name': 'wg0'}]}, netns=node),
            'wireguard[0].private_key_file', ['private_key_file'])


@pytest.mark.parametrize('section', ['hosts', 'resolver'])
def test_file_section_whose_directory_is_missing(node, dump, tmp_path, section):
    params = {'path': str(tmp_path / 'missing' / 'file')}
    params.update({'entries': [{'ip': '192.0.2.10', 'aliases': ['n1']}]} if section == 'hosts' else {'nameservers': ['192.0.2.53']})
    msg = refused(dump, lambda: network.converge(dict(json.loads(json.dumps(BASE)), **{section: params}, links=[
        {'name': 'eth0', 'mtu': 1400}]), netns=node), '%s.path' % section, ['does not exist'])
    assert msg.count('nothing was changed') == 1, msg


def test_file_that_fails_while_written_names_the_section_and_says_once_what_happened(node, dump, tmp_path, monkeypatch):
    """The directory was fine when checked, the write fails anyway (a full disk, a race): the change
    to the links is rolled back and the message says that once."""
    def broken(params, path, check_mode=False, **kw):
        if check_mode:
            return {'changed': True, 'path': path, 'diff': {}, 'warnings': []}
        raise filecommon.FileError('cannot write %s: no space left on device (ENOSPC); nothing was changed' % path, 'path')
    monkeypatch.setattr(hosts_file, 'converge', broken)
    before = dump()
    with pytest.raises(ApplyError) as exc:
        network.converge({'links': [{'name': 'eth0', 'mtu': 1400}],
                          'hosts': {'path': str(tmp_path / 'hosts'), 'entries': [{'ip': '192.0.2.10', 'aliases': ['n1']}]}},
                         netns=node)
    msg = str(exc.value)
    assert exc.value.field == 'hosts.path' and exc.value.rolled_back
    assert msg.startswith('hosts.path: cannot write') and 'nothing was changed' not in msg, msg
    assert 'rolled back the 1 operation(s) already applied, the node is as it was' in msg, msg
    assert dump() == before
