"""Kernel tier: routes other programs made (routing daemons, DHCP clients). The kernel deletes a
route only when the request carries the route's own protocol, so removal, purge and rollback
use the observed one; `purge: [routes]` leaves other programs' routes alone, `daemon_routes` asks
for them too."""
import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError

from conftest import sh

NODE = {'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}],
        'addresses': [{'address': '192.0.2.10/24', 'link': 'eth0'}, {'address': '2001:db8::10/64', 'link': 'eth0'}]}
# destination -> protocol, as `ip route add ... proto X` leaves them
FOREIGN = {'198.51.100.0/24': 'bird', '203.0.113.0/24': 'zebra', '10.1.0.0/16': 'bgp', '10.2.0.0/16': 'dhcp',
           '10.3.0.0/16': '77', '2001:db8:1::/48': 'bird'}
OWN = {'10.4.0.0/16': 'boot', '10.5.0.0/16': 'static'}


def add_routes(netns, routes):
    for dst, proto in routes.items():
        gw = '2001:db8::1' if ':' in dst else '192.0.2.1'
        sh('ip', '-n', netns, 'route', 'add', dst, 'via', gw, 'proto', proto)


def protocols(ip):
    """{destination: protocol} of the routes through eth0 that are not the kernel's own."""
    out = {}
    for fam in ('-4', '-6'):
        for r in ip(fam, 'route', 'show', 'dev', 'eth0'):
            if r.get('protocol') not in ('kernel', 'ra') and r['dst'] != 'fe80::/64':
                out[r['dst']] = str(r.get('protocol'))
    return out


@pytest.fixture
def node(netns, ip):
    network.converge(NODE, netns=netns)
    add_routes(netns, FOREIGN)
    add_routes(netns, OWN)
    assert protocols(ip) == dict(FOREIGN, **OWN)
    return netns


def test_route_absent_removes_a_daemons_route_with_its_protocol(node, apply, ip):
    for dst in ('198.51.100.0/24', '10.3.0.0/16', '2001:db8:1::/48'):
        metric = 1024 if ':' in dst else 0
        r = apply({'route': [{'destination': dst, 'metric': metric, 'state': 'absent'}]})
        assert r['changed'] and r['operations'] == ['delete route %s table main metric %d' % (dst, metric)]
        assert dst not in protocols(ip)
    assert apply({'route': [{'destination': '198.51.100.0/24', 'state': 'absent'}]})['changed'] is False


def test_rollback_puts_a_daemons_route_back_with_its_protocol(node, ip):
    before = protocols(ip)
    spec = dict(NODE, routes=[{'destination': '198.51.100.0/24', 'state': 'absent'},
                              {'destination': '203.0.113.0/24', 'state': 'absent'},
                              {'destination': '10.9.0.0/16', 'gateway': '192.0.2.1'}])
    with pytest.raises(ApplyError) as exc:
        network.converge(spec, netns=node, fail_after=2)
    assert exc.value.rolled_back, str(exc.value)
    assert protocols(ip) == before


def test_purge_routes_leaves_other_programs_routes_alone(node, ip):
    r = network.converge(NODE, netns=node, purge=['routes'])
    assert sorted(r['operations']) == sorted('delete route %s table main metric 0 (purge)' % d for d in OWN)
    assert protocols(ip) == FOREIGN
    assert network.converge(NODE, netns=node, purge=['routes'])['changed'] is False


def test_purge_daemon_routes_removes_them_too(node, ip):
    r = network.converge(NODE, netns=node, purge=['daemon_routes'])
    assert len(r['operations']) == len(FOREIGN)
    assert protocols(ip) == OWN
    network.converge(NODE, netns=node, purge=['routes', 'daemon_routes'])
    assert protocols(ip) == {}
    # the kernel's own routes (the connected subnets) stay
    assert [r['dst'] for r in ip('-4', 'route', 'show', 'dev', 'eth0')] == ['192.0.2.0/24']
