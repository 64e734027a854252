import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, ValidationError

from conftest import kernel_has


def by_name(links, name):
    return [l for l in links if l['ifname'] == name]


def test_veth_pair_created_with_settings_then_idempotent(apply, ip):
    desired = {'link': [{'name': 'va', 'kind': 'veth', 'peer': 'vb', 'mtu': 1400, 'up': True,
                         'hardware_addr': '02:00:00:00:00:0A', 'txqueuelen': 500, 'alias': 'uplink'},
                        {'name': 'vb', 'up': True, 'mtu': 1400}]}
    r = apply(desired)
    assert r['changed'] and r['operations'] == ['create link va', 'modify link vb']
    va = by_name(ip('link', 'show'), 'va')[0]
    assert va['mtu'] == 1400 and va['address'] == '02:00:00:00:00:0a'
    assert va['txqlen'] == 500 and va['ifalias'] == 'uplink' and 'UP' in va['flags']
    assert va['linkinfo']['info_kind'] == 'veth' and va['link'] == 'vb'
    vb = by_name(ip('link', 'show'), 'vb')[0]
    assert vb['mtu'] == 1400 and 'UP' in vb['flags']
    assert apply(desired) == {'changed': False, 'operations': []}


def test_change_in_place_touches_only_managed_fields(apply, ip):
    apply({'link': [{'name': 'va', 'kind': 'veth', 'peer': 'vb', 'alias': 'keep'}]})
    r = apply({'link': [{'name': 'va', 'mtu': 9000, 'up': True}]}, diff_mode=True)
    assert r['operations'] == ['modify link va']
    assert 'mtu: 1500' in r['diff'][0]['before'] and 'mtu: 9000' in r['diff'][0]['after']
    va = by_name(ip('link', 'show'), 'va')[0]
    assert va['mtu'] == 9000 and va['ifalias'] == 'keep'
    # an empty alias clears it, and stays idempotent
    assert apply({'link': [{'name': 'va', 'alias': ''}]})['operations'] == ['modify link va']
    assert 'ifalias' not in by_name(ip('link', 'show'), 'va')[0]
    assert apply({'link': [{'name': 'va', 'alias': ''}]})['changed'] is False


def test_macvlan_and_vxlan(apply, ip):
    r = apply({'link': [
        {'name': 'mv0', 'kind': 'macvlan', 'parent': 'va', 'macvlan_mode': 'vepa'},
        {'name': 'va', 'kind': 'veth', 'peer': 'vb', 'up': True},
        {'name': 'vx0', 'kind': 'vxlan', 'vni': 4242, 'local': '192.0.2.1', 'remote': '192.0.2.2',
         'port': 8472, 'learning': False, 'mtu': 1450},
        {'name': 'vx6', 'kind': 'vxlan', 'vni': 7, 'group': 'ff05::100', 'parent': 'va'},
    ]})
    assert r['operations'][0] == 'create link va'
    links = ip('link', 'show')
    mv = by_name(links, 'mv0')[0]
    assert mv['linkinfo']['info_kind'] == 'macvlan' and mv['linkinfo']['info_data']['mode'] == 'vepa' and mv['link'] == 'va'
    vx = by_name(links, 'vx0')[0]['linkinfo']['info_data']
    assert vx['id'] == 4242 and vx['local'] == '192.0.2.1' and vx['remote'] == '192.0.2.2'
    assert vx['port'] == 8472 and vx['learning'] is False
    vx6 = by_name(links, 'vx6')[0]['linkinfo']['info_data']
    assert vx6['group6'] == 'ff05::100' and vx6['id'] == 7
    # macvlan mode changes in place
    r = apply({'link': [{'name': 'mv0', 'kind': 'macvlan', 'parent': 'va', 'macvlan_mode': 'private'}]})
    assert r['operations'] == ['modify link mv0']
    assert by_name(ip('link', 'show'), 'mv0')[0]['linkinfo']['info_data']['mode'] == 'private'


def test_immutable_change_refused_and_nothing_touched(apply, ip):
    apply({'link': [{'name': 'vx0', 'kind': 'vxlan', 'vni': 10}]})
    with pytest.raises(ValidationError) as exc:
        apply({'link': [{'name': 'vx0', 'kind': 'vxlan', 'vni': 11, 'mtu': 1400}]})
    assert exc.value.field == 'vni'
    vx = by_name(ip('link', 'show'), 'vx0')[0]
    assert vx['linkinfo']['info_data']['id'] == 10 and vx['mtu'] == 1500


def test_remove_veth_removes_both_ends(apply, ip):
    apply({'link': [{'name': 'va', 'kind': 'veth', 'peer': 'vb'}]})
    r = apply({'link': [{'name': 'va', 'state': 'absent'}, {'name': 'vb', 'state': 'absent'}]})
    assert r['operations'] == ['delete link va']
    assert not by_name(ip('link', 'show'), 'va') and not by_name(ip('link', 'show'), 'vb')
    assert apply({'link': [{'name': 'va', 'state': 'absent'}]})['changed'] is False


def test_loopback_is_never_removed(apply, ip):
    with pytest.raises(ValidationError):
        apply({'link': [{'name': 'lo', 'state': 'absent'}]})
    assert by_name(ip('link', 'show'), 'lo')


def test_existing_link_mtu_outside_driver_range(apply, ip):
    # loopback reports min/max 0, veth 68-65535: a veth refuses 65536 at validation
    apply({'link': [{'name': 'va', 'kind': 'veth', 'peer': 'vb'}]})
    with pytest.raises(ValidationError):
        apply({'link': [{'name': 'va', 'mtu': 65536}]})


def test_dummy_or_clear_missing_feature_error(apply, ip, snapshot):
    """dummy exists in the VM tier's kernel; where the kernel lacks it, the error names the module."""
    before = snapshot()
    if kernel_has('dummy'):
        apply({'link': [{'name': 'd0', 'kind': 'dummy', 'up': True}]})
        assert by_name(ip('link', 'show'), 'd0')[0]['linkinfo']['info_kind'] == 'dummy'
        return
    with pytest.raises(ApplyError) as exc:
        apply({'link': [{'name': 'd0', 'kind': 'dummy'}]})
    msg = str(exc.value)
    assert "kernel module 'dummy'" in msg and 'CONFIG_DUMMY' in msg and 'EOPNOTSUPP' in msg
    assert snapshot() == before


def test_check_mode_changes_nothing(apply, ip, snapshot):
    before = snapshot()
    r = apply({'link': [{'name': 'va', 'kind': 'veth', 'peer': 'vb', 'mtu': 1400}]}, check_mode=True, diff_mode=True)
    assert r['changed'] and r['operations'] == ['create link va']
    assert 'mtu: 1400' in r['diff'][0]['after'] and r['diff'][0]['before'] == ''
    assert snapshot() == before


def test_rollback_clears_an_alias_the_link_did_not_have(apply, snapshot):
    """Setting an alias on a link without one, then failing: the rollback must clear it again."""
    apply({'link': [{'name': 'va', 'kind': 'veth', 'peer': 'vb'}]})
    before = snapshot()
    with pytest.raises(ApplyError):
        apply({'link': [{'name': 'va', 'alias': 'new', 'mtu': 1400}],
               'address': [{'address': '192.0.2.1/24', 'link': 'va'}]}, fail_after=1)
    assert snapshot() == before
