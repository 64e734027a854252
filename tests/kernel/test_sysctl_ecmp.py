"""Kernel tier: sysctls (per network namespace: only net.* keys are ever written, and only inside the test's own
namespace) and multipath (ECMP) routes, read back with iproute2 as a user would."""
import os
import subprocess

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, MissingReference, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather


def sysctl(netns, name):
    return subprocess.run(['ip', 'netns', 'exec', netns, 'sysctl', '-n', name], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_sysctl_set_idempotent_persist_and_status(apply, netns, tmp_path):
    conf = str(tmp_path / 'sysctl.d' / '90-test.conf')
    desired = {'sysctl': [{'settings': {'net.ipv4.ip_forward': True, 'net.ipv4.conf.all.rp_filter': 2,
                                        'net.ipv4.ip_local_port_range': [20000, 40000]},
                           'persist': True, 'persist_file': conf}]}
    # check mode plans and changes nothing
    r = apply(desired, check_mode=True, diff_mode=True)
    assert r['changed'] and sysctl(netns, 'net.ipv4.ip_forward') == '0' and not os.path.exists(conf)
    assert 'create sysctl file %s' % conf in r['operations']
    assert any('net.ipv4.ip_forward' in d['after_header'] for d in r['diff'])
    r = apply(desired)
    assert sorted(r['operations']) == sorted(['modify sysctl net.ipv4.ip_forward', 'modify sysctl net.ipv4.conf.all.rp_filter',
                                              'modify sysctl net.ipv4.ip_local_port_range', 'create sysctl file %s' % conf])
    assert sysctl(netns, 'net.ipv4.ip_forward') == '1'
    assert sysctl(netns, 'net.ipv4.conf.all.rp_filter') == '2'
    assert sysctl(netns, 'net.ipv4.ip_local_port_range').split() == ['20000', '40000']
    with open(conf) as fh:
        lines = [line for line in fh.read().splitlines() if not line.startswith('#')]
    assert lines == ['net.ipv4.conf.all.rp_filter = 2', 'net.ipv4.ip_forward = 1', 'net.ipv4.ip_local_port_range = 20000 40000']
    # the host's own value is untouched: the write happened in the namespace
    assert apply(desired)['changed'] is False
    status = gather(netns, resources=('sysctls',))['sysctls']
    assert status['net.ipv4.ip_forward'] == '1' and status['net.ipv4.ip_local_port_range'] == '20000 40000'


def test_sysctl_bad_keys_fail_before_anything_is_touched(apply, netns, tmp_path):
    for settings, field, text in (
            ({'net.ipv4.ip_forward': 1, 'net.ipv4.ip_forwrd': 1}, 'settings.net.ipv4.ip_forwrd', 'no such kernel parameter'),
            ({'net.ipv4.ip_forward': 1, 'kernel.pid_max': 65536}, 'settings.kernel.pid_max', 'not per network namespace'),
            ({'net.ipv4.ip_forward': 1, 'net.netfilter.nf_conntrack_max': 1000},
             'settings.net.netfilter.nf_conntrack_max', 'read-only')):
        if field.endswith('nf_conntrack_max') and not os.path.exists('/proc/sys/net/netfilter/nf_conntrack_max'):
            print('nf_conntrack is not loaded here: no read-only key to try')
            continue
        with pytest.raises(ValidationError) as exc:
            apply({'sysctl': [{'settings': settings}]})
        assert exc.value.field == field and text in str(exc.value)
        assert sysctl(netns, 'net.ipv4.ip_forward') == '0'


def test_sysctl_kubernetes_preset_in_a_namespace(apply, netns):
    r = apply({'sysctl': [{'preset': 'kubernetes'}]})
    assert sysctl(netns, 'net.ipv4.ip_forward') == '1'
    assert sysctl(netns, 'net.ipv6.conf.all.forwarding') == '1'
    if os.path.exists('/proc/sys/net/bridge'):
        assert sysctl(netns, 'net.bridge.bridge-nf-call-iptables') == '1'
    else:
        print('br_netfilter is not loaded here: bridge-nf-call-iptables left out, as documented')
    # nf_conntrack_max is the machine's: never written from a namespace, and said so
    assert any('nf_conntrack_max' in w for w in r.get('warnings', []))
    assert apply({'sysctl': [{'preset': 'kubernetes'}]})['changed'] is False


def test_sysctl_failed_write_rolls_back_the_values_already_written(apply, netns):
    # the kernel refuses an inverted port range only when it is written: the plan cannot know
    before = sysctl(netns, 'net.ipv4.ip_local_port_range')
    desired = {'sysctl': [{'settings': {'net.ipv4.ip_forward': 1, 'net.ipv4.ip_local_port_range': '40000 20000'}}]}
    with pytest.raises(ApplyError) as exc:
        apply(desired)
    assert 'rolled back' in str(exc.value) and 'net.ipv4.ip_local_port_range' in str(exc.value)
    assert sysctl(netns, 'net.ipv4.ip_forward') == '0'
    assert sysctl(netns, 'net.ipv4.ip_local_port_range') == before


def test_sysctl_injected_failure_rolls_back_values_and_file(apply, netns, tmp_path):
    conf = str(tmp_path / '90-x.conf')
    before = sysctl(netns, 'net.ipv4.conf.all.rp_filter')
    desired = {'sysctl': [{'settings': {'net.ipv4.ip_forward': 1, 'net.ipv4.conf.all.rp_filter': 2},
                           'persist': True, 'persist_file': conf}]}
    with pytest.raises(ApplyError):
        apply(desired, fail_after=2)
    assert sysctl(netns, 'net.ipv4.ip_forward') == '0'
    assert sysctl(netns, 'net.ipv4.conf.all.rp_filter') == before
    assert not os.path.exists(conf)


ECMP_BASE = {
    'link': [{'name': 'ea', 'kind': 'veth', 'peer': 'fa', 'up': True}, {'name': 'fa', 'up': True},
             {'name': 'eb', 'kind': 'veth', 'peer': 'fb', 'up': True}, {'name': 'fb', 'up': True}],
    'address': [{'address': '10.1.0.2/24', 'link': 'ea'}, {'address': '10.2.0.2/24', 'link': 'eb'},
                {'address': '2001:db8:1::2/64', 'link': 'ea'}, {'address': '2001:db8:2::2/64', 'link': 'eb'}],
}


def _hops(route):
    return sorted((h.get('gateway'), h['dev'], h.get('weight', 1)) for h in route['nexthops'])


def test_multipath_routes_v4_v6_read_back_idempotent_and_changed_as_one(apply, ip, netns):
    routes = [
        {'destination': '10.9.0.0/16', 'nexthops': [{'gateway': '10.1.0.1', 'link': 'ea'},
                                                    {'gateway': '10.2.0.1', 'link': 'eb', 'weight': 3}]},
        {'destination': '2001:db8:9::/48', 'nexthops': [{'gateway': '2001:db8:1::1', 'link': 'ea'},
                                                        {'gateway': '2001:db8:2::1', 'link': 'eb'}]},
    ]
    desired = dict(ECMP_BASE, route=routes)
    r = apply(desired)
    assert 'create route 10.9.0.0/16 table main metric 0' in r['operations']
    v4 = ip('route', 'show', '10.9.0.0/16')
    assert len(v4) == 1 and _hops(v4[0]) == [('10.1.0.1', 'ea', 1), ('10.2.0.1', 'eb', 3)]
    v6 = ip('-6', 'route', 'show', '2001:db8:9::/48')
    assert len(v6) == 1 and _hops(v6[0]) == [('2001:db8:1::1', 'ea', 1), ('2001:db8:2::1', 'eb', 1)]
    assert apply(desired)['changed'] is False
    # network_info shows the nexthops
    status = [x for x in gather(netns, resources=('routes',))['routes'] if x['destination'] == '10.9.0.0/16']
    assert status[0]['nexthops'] == [{'gateway': '10.1.0.1', 'link': 'ea', 'weight': 1},
                                     {'gateway': '10.2.0.1', 'link': 'eb', 'weight': 3}]
    # a weight change is one change of the whole route
    routes[0]['nexthops'][1]['weight'] = 1
    r = apply(dict(ECMP_BASE, route=routes))
    assert r['operations'] == ['modify route 10.9.0.0/16 table main metric 0']
    assert _hops(ip('route', 'show', '10.9.0.0/16')[0]) == [('10.1.0.1', 'ea', 1), ('10.2.0.1', 'eb', 1)]
    # removal removes the route with all its nexthops
    r = apply({'route': [{'destination': '10.9.0.0/16', 'state': 'absent'},
                         {'destination': '2001:db8:9::/48', 'state': 'absent'}]})
    assert ip('route', 'show', '10.9.0.0/16') == [] and ip('-6', 'route', 'show', '2001:db8:9::/48') == []


def test_multipath_route_rolled_back_as_one_route(apply, ip):
    apply(ECMP_BASE)
    apply({'route': [{'destination': '10.9.0.0/16', 'nexthops': [{'gateway': '10.1.0.1', 'link': 'ea'},
                                                                 {'gateway': '10.2.0.1', 'link': 'eb'}]}]})
    # a run that fails after changing it (the test hook) puts the old multipath route back whole
    with pytest.raises(ApplyError) as exc:
        apply({'route': [{'destination': '10.9.0.0/16', 'nexthops': [{'gateway': '10.1.0.1', 'link': 'ea', 'weight': 5},
                                                                     {'gateway': '10.2.0.2', 'link': 'eb'}]},
                         {'destination': '10.8.0.0/16', 'gateway': '10.1.0.1'}]}, fail_after=1)
    assert 'rolled back' in str(exc.value)
    assert _hops(ip('route', 'show', '10.9.0.0/16')[0]) == [('10.1.0.1', 'ea', 1), ('10.2.0.1', 'eb', 1)]
    # a multipath route made by a failed run is removed whole
    with pytest.raises(ApplyError):
        apply({'route': [{'destination': '10.6.0.0/16', 'nexthops': [{'gateway': '10.1.0.1', 'link': 'ea'},
                                                                     {'gateway': '10.2.0.1', 'link': 'eb'}]},
                         {'destination': '10.8.0.0/16', 'gateway': '10.1.0.1'}]}, fail_after=1)
    assert ip('route', 'show', '10.6.0.0/16') == [] and ip('route', 'show', '10.8.0.0/16') == []


def test_multipath_nexthop_on_a_missing_link_fails_before_anything_is_touched(apply, ip):
    apply(ECMP_BASE)
    with pytest.raises(MissingReference) as exc:
        apply({'route': [{'destination': '10.7.0.0/16', 'gateway': '10.1.0.1'},
                         {'destination': '10.9.0.0/16', 'nexthops': [{'gateway': '10.1.0.1', 'link': 'ea'},
                                                                     {'gateway': '10.2.0.1', 'link': 'nosuch0'}]}]})
    assert exc.value.field == 'route[1].nexthops[1].link'
    assert ip('route', 'show', '10.7.0.0/16') == []


def test_network_module_sections_sysctls_and_multipath_routes(netns, ip):
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
    spec = {
        'links': [dict(x) for x in ECMP_BASE['link']],
        'addresses': [dict(x) for x in ECMP_BASE['address']],
        'sysctls': [{'preset': 'kubernetes'}, {'settings': {'net.ipv4.conf.all.rp_filter': 2}}],
        'routes': [{'destination': 'default', 'nexthops': [{'gateway': '10.1.0.1', 'link': 'ea'},
                                                           {'gateway': '10.2.0.1', 'link': 'eb'}]}],
    }

    def go(**kw):
        r = network.converge(json_copy(spec), netns=netns, **kw)
        r.pop('_journal', None)
        return r
    r = go(check_mode=True, diff_mode=True)
    assert r['changed'] and sysctl(netns, 'net.ipv4.ip_forward') == '0'
    ops = r['operations']
    # the sysctls come before the links, the routes after the addresses
    assert ops.index('modify sysctl net.ipv4.ip_forward') < ops.index('create link ea')
    go()
    assert sysctl(netns, 'net.ipv4.ip_forward') == '1' and sysctl(netns, 'net.ipv4.conf.all.rp_filter') == '2'
    assert _hops(ip('route', 'show', 'default')[0]) == [('10.1.0.1', 'ea', 1), ('10.2.0.1', 'eb', 1)]
    assert go()['changed'] is False
    # an unknown key in the section names the entry and changes nothing
    spec['sysctls'].append({'settings': {'net.ipv4.nosuch': 1}})
    spec['routes'][0]['nexthops'][1]['weight'] = 4
    with pytest.raises(ValidationError) as exc:
        go()
    assert exc.value.field == 'sysctls[2].settings.net.ipv4.nosuch'
    assert _hops(ip('route', 'show', 'default')[0]) == [('10.1.0.1', 'ea', 1), ('10.2.0.1', 'eb', 1)]


def json_copy(spec):
    import json
    return json.loads(json.dumps(spec))
