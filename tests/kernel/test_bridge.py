"""Bridges on this machine's kernel (it has bridges, but no VLAN filtering): ports, STP, port
settings, idempotence, check mode, rollback. Checked with `ip -j -d`, the view a user has."""
import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, MissingReference, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import netdev

VETHS = [{'name': 'p1', 'kind': 'veth', 'peer': 'p1x', 'up': True}, {'name': 'p2', 'kind': 'veth', 'peer': 'p2x'}]


def bridge_spec(**kw):
    spec = {'name': 'br0', 'links': ['p1', {'name': 'p2', 'cost': 7, 'priority': 9}],
            'stp': {'enabled': True, 'forward_delay': 4, 'hello_time': 1, 'max_age': 6, 'priority': 4096},
            'mtu': 1400, 'up': True}
    spec.update(kw)
    return spec


def link(ip, name):
    return ip('link', 'show', 'dev', name)[0]


def test_bridge_with_ports_and_stp_in_one_plan_then_idempotent(apply, ip):
    r = apply({'link': [dict(v) for v in VETHS], 'bridge': [bridge_spec()]})
    assert r['operations'] == ['create link p1', 'create link p2', 'create bridge br0']
    br = link(ip, 'br0')
    info = br['linkinfo']['info_data']
    assert info['stp_state'] == 1 and info['forward_delay'] == 400 and info['hello_time'] == 100
    assert info['max_age'] == 600 and info['priority'] == 4096
    assert br['mtu'] == 1400 and 'UP' in br['flags']
    p2 = link(ip, 'p2')
    assert p2['master'] == 'br0' and link(ip, 'p1')['master'] == 'br0'
    assert p2['linkinfo']['info_slave_data']['cost'] == 7 and p2['linkinfo']['info_slave_data']['priority'] == 9
    again = apply({'link': [dict(v) for v in VETHS], 'bridge': [bridge_spec()]})
    assert again['changed'] is False and again['operations'] == []


def test_only_what_is_set_is_sent(apply, ip):
    apply({'link': [dict(v) for v in VETHS], 'bridge': [{'name': 'br0'}]})
    info = link(ip, 'br0')['linkinfo']['info_data']
    # kernel defaults untouched: STP off, 15 s forward delay, priority 32768
    assert info['stp_state'] == 0 and info['forward_delay'] == 1500 and info['priority'] == 32768


def test_change_ports_and_stp_with_diff_and_check_mode(apply, ip, snapshot):
    apply({'link': [dict(v) for v in VETHS], 'bridge': [bridge_spec()]})
    before = snapshot()
    change = {'bridge': [bridge_spec(links=[{'name': 'p2', 'cost': 20}], stp={'enabled': False})]}
    r = apply(change, check_mode=True, diff_mode=True)
    assert r['changed'] and r['operations'] == ['modify bridge br0']
    d = r['diff'][0]
    assert 'links: ["p1", "p2"]' in d['before'] and 'links: ["p2"]' in d['after']
    assert 'stp: true' in d['before'] and 'stp: false' in d['after']
    assert '"cost": 7' in d['before'] and '"cost": 20' in d['after']
    assert snapshot() == before
    apply(change)
    assert 'master' not in link(ip, 'p1')
    # p1 was up before it joined; leaving the bridge does not take it down
    assert 'UP' in link(ip, 'p1')['flags']
    assert link(ip, 'p2')['linkinfo']['info_slave_data']['cost'] == 20
    assert link(ip, 'br0')['linkinfo']['info_data']['stp_state'] == 0


def test_failure_part_way_rolls_back_everything(apply, snapshot):
    apply({'link': [dict(v) for v in VETHS]})
    before = snapshot()
    for n in (1, 2):
        with pytest.raises(ApplyError) as e:
            apply({'link': [{'name': 'p3', 'kind': 'veth', 'peer': 'p3x'}], 'bridge': [bridge_spec()],
                   'address': [{'address': '192.0.2.1/24', 'link': 'br0'}]}, fail_after=n)
        assert 'rolled back' in str(e.value)
        assert snapshot() == before


def test_rollback_restores_a_changed_bridge(apply, snapshot):
    apply({'link': [dict(v) for v in VETHS], 'bridge': [bridge_spec()]})
    before = snapshot()
    with pytest.raises(ApplyError):
        apply({'bridge': [bridge_spec(links=['p2'], stp={'enabled': False, 'priority': 8192})],
               'address': [{'address': '192.0.2.1/24', 'link': 'br0'}]}, fail_after=1)
    assert snapshot() == before


def test_vlan_filtering_missing_in_kernel_is_a_clear_error_and_rolled_back(apply, snapshot):
    apply({'link': [dict(v) for v in VETHS]})
    before = snapshot()
    with pytest.raises(ApplyError) as e:
        apply({'bridge': [{'name': 'br0', 'vlan_filtering': True, 'links': ['p1']}]})
    # this machine's kernel has no CONFIG_BRIDGE_VLAN_FILTERING; the VM tier tests the feature itself
    assert 'CONFIG_BRIDGE_VLAN_FILTERING' in str(e.value) and 'nothing had been changed' in str(e.value)
    assert snapshot() == before


def test_remove_bridge_releases_ports(apply, ip):
    apply({'link': [dict(v) for v in VETHS], 'bridge': [bridge_spec()]})
    r = apply({'bridge': [{'name': 'br0', 'state': 'absent'}]})
    assert r['operations'] == ['delete bridge br0']
    names = [l['ifname'] for l in ip('link', 'show')]
    assert 'br0' not in names and 'p1' in names and 'p2' in names
    assert 'master' not in link(ip, 'p1')


@pytest.mark.parametrize('spec, field, text', [
    ({'name': 'br0', 'links': ['p1', 'p1']}, 'links[1]', 'listed twice'),
    ({'name': 'br0', 'stp': {'forward_delay': 1}}, 'stp.forward_delay', 'allowed 2-30'),
    ({'name': 'br0', 'links': [{'name': 'p1', 'priority': 64}]}, 'links[0].priority', 'allowed 0-63'),
    ({'name': 'br0', 'links': [{'name': 'p1', 'vlans': [10]}]}, 'links[0].vlans', 'vlan_filtering: true'),
    ({'name': 'br0', 'vlan_filtering': True, 'links': [{'name': 'p1', 'vlans': [{'vid': 5, 'pvid': True}, {'vid': 6, 'pvid': True}]}]},
     'links[0].vlans', 'one PVID'),
    ({'name': 'br0', 'stp': {'forward_delay': 4, 'hello_time': 2, 'max_age': 20}}, 'stp', '802.1D'),
    ({'name': 'br0', 'links': [{'name': 'p1', 'colour': 'red'}]}, 'links[0].colour', 'unknown option'),
])
def test_bad_input_names_the_field_and_touches_nothing(apply, snapshot, spec, field, text):
    apply({'link': [dict(v) for v in VETHS]})
    before = snapshot()
    with pytest.raises(ValidationError) as e:
        apply({'bridge': [spec]})
    assert e.value.field == field and text in str(e.value)
    assert snapshot() == before


def test_port_that_does_not_exist_or_belongs_elsewhere(apply):
    apply({'link': [dict(v) for v in VETHS], 'bridge': [{'name': 'br0', 'links': ['p1']}]})
    with pytest.raises(MissingReference) as e:
        apply({'bridge': [{'name': 'br1', 'links': ['nope']}]})
    assert e.value.field == 'links[0]' and "'nope'" in str(e.value)
    with pytest.raises(ValidationError) as e:
        apply({'bridge': [{'name': 'br1', 'links': ['p1']}]})
    assert "already a port of 'br0'" in str(e.value)


def test_network_info_shows_ports_and_master(apply, netns):
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather
    apply({'link': [dict(v) for v in VETHS], 'bridge': [bridge_spec()]})
    links = dict((l['name'], l) for l in gather(netns, ['links'])['links'])
    assert links['br0']['ports'] == ['p1', 'p2'] and links['br0']['stp'] is True and links['br0']['forward_delay'] == 4
    assert links['p2']['master'] == 'br0' and links['p2']['bridge_port']['cost'] == 7


def test_owner_detection_from_manager_state_files(tmp_path):
    nm = tmp_path / 'NetworkManager' / 'devices'
    nm.mkdir(parents=True)
    (nm / '5').write_text('[device]\nmanaged=true\n')
    (nm / '6').write_text('[device]\nmanaged=false\n')
    nd = tmp_path / 'systemd' / 'netif' / 'links'
    nd.mkdir(parents=True)
    (nd / '7').write_text('ADMIN_STATE=configured\nOPER_STATE=routable\n')
    (nd / '8').write_text('ADMIN_STATE=unmanaged\n')
    got = dict((i, netdev.owner('x', i, run_dir=str(tmp_path))) for i in (5, 6, 7, 8, 9))
    assert got == {5: 'NetworkManager', 6: None, 7: 'systemd-networkd', 8: None, 9: None}
