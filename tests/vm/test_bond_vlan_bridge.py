"""Bonds, VLANs and VLAN-filtering bridges on a real Debian kernel (VM tier).

This machine's kernel has no bonding, 8021q or bridge VLAN filtering, so these run inside
the VM (scripts/test-vm). The engine is called in-process (Python start-up is slow under
emulation); the worked example also runs as a real playbook, three times.
Checked with `ip -j -d` and `bridge -j`, independent of the code under test.
"""

from __future__ import annotations

import copy
import json
import subprocess
import time

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import converge
from testlib import user_result
from conftest import quiet_ipv6


def apply(netns, desired, **kw):
    return user_result(converge(copy.deepcopy(desired), netns=netns, **kw))


def nics(ip, netns, *names):
    """Dummy links stand in for the node's NICs (they exist before the play, like real ones).
    IPv6 autoconfiguration is off in the namespace (conftest.quiet_ipv6) so snapshots don't
    depend on its timing."""
    quiet_ipv6(netns)
    for n in names:
        ip(netns, 'link', 'add', n, 'type', 'dummy')


def show(ip_json, netns, name):
    return ip_json(netns, '-d', 'link', 'show', 'dev', name)[0]


def snapshot(netns):
    s = gather(netns, ['links', 'addresses', 'routes'])
    for link in s['links']:
        for k in ('operational_state', 'active_slave'):
            link.pop(k, None)
        link['flags'] = [f for f in link['flags'] if f not in ('RUNNING', 'LOWER_UP')]
        if link.get('bond_port'):
            link['bond_port'] = dict(link['bond_port'], mii_status=None, state=None, link_failure_count=None)
    s['addresses'] = [dict(a, flags=[f for f in a['flags'] if f != 'tentative']) for a in s['addresses']]
    return s


def same(netns, before, settle=3.0):
    """The namespace's snapshot equals `before`, allowing `settle` seconds for what the kernel
    does asynchronously after a link comes up (IPv6 link-local addresses and routes); on a
    difference, print which object and fields differ."""
    deadline = time.time() + settle
    now = snapshot(netns)
    while now != before and time.time() < deadline:
        time.sleep(0.2)
        now = snapshot(netns)
    if now == before:
        return True
    for section in before:
        a = dict((json.dumps(x.get('name') or x.get('destination') or x.get('address')), x) for x in before[section])
        b = dict((json.dumps(x.get('name') or x.get('destination') or x.get('address')), x) for x in now[section])
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                fields = sorted(f for f in set(a.get(k) or {}) | set(b.get(k) or {}) if (a.get(k) or {}).get(f) != (b.get(k) or {}).get(f))
                print('DIFF', section, k, [(f, (a.get(k) or {}).get(f), (b.get(k) or {}).get(f)) for f in fields])
    return False


def bridge_vlans(netns, port):
    out = subprocess.run(['ip', 'netns', 'exec', netns, 'bridge', '-j', 'vlan', 'show', 'dev', port],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out or '[]')
    entries = data[0]['vlans'] if data and 'vlans' in data[0] else []
    return sorted((e['vlan'], 'PVID' in e.get('flags', []), 'Egress Untagged' in e.get('flags', [])) for e in entries)


# One option per mode that only that mode (or its family) takes, and a value to change it to.
MODE_OPTIONS = {
    'balance-rr': ({'packets_per_slave': 3}, {'packets_per_slave': 5}),
    'active-backup': ({'primary': 'eth0', 'fail_over_mac': 'active'}, {'primary': 'eth1'}),
    'balance-xor': ({'xmit_hash_policy': 'layer3+4'}, {'xmit_hash_policy': 'layer2+3'}),
    'broadcast': ({'arp_interval': 100, 'arp_ip_targets': ['192.0.2.1']}, {'arp_ip_targets': ['192.0.2.1', '192.0.2.2']}),
    '802.3ad': ({'lacp_rate': 'fast', 'ad_select': 'bandwidth', 'min_links': 1}, {'lacp_rate': 'slow', 'ad_actor_sys_prio': 100}),
    'balance-tlb': ({'tlb_dynamic_lb': False, 'lp_interval': 2}, {'lp_interval': 3}),
    'balance-alb': ({'primary_reselect': 'better', 'resend_igmp': 3}, {'resend_igmp': 5}),
}
# how `ip -d` names a few of them
IP_NAMES = {'packets_per_slave': 'packets_per_slave', 'xmit_hash_policy': 'xmit_hash_policy', 'lacp_rate': 'ad_lacp_rate',
            'ad_select': 'ad_select', 'min_links': 'min_links', 'lp_interval': 'lp_interval', 'resend_igmp': 'resend_igmp',
            'primary_reselect': 'primary_reselect', 'fail_over_mac': 'fail_over_mac', 'tlb_dynamic_lb': 'tlb_dynamic_lb',
            'arp_interval': 'arp_interval', 'arp_ip_targets': 'arp_ip_target', 'ad_actor_sys_prio': 'ad_actor_sys_prio',
            'primary': 'primary'}


def ip_value(info, opt):
    val = info.get(IP_NAMES[opt])
    if opt == 'tlb_dynamic_lb':
        return bool(val)
    return val


@pytest.mark.parametrize('mode', list(MODE_OPTIONS))
def test_every_bond_mode_created_changed_and_idempotent(netns, ip, ip_json, mode):
    nics(ip, netns, 'eth0', 'eth1')
    first, change = MODE_OPTIONS[mode]
    spec = dict({'name': 'bond0', 'mode': mode, 'links': ['eth0', 'eth1'], 'up': True}, **first)
    r = apply(netns, {'bond': [spec]})
    assert r['operations'] == ['create bond bond0']
    info = show(ip_json, netns, 'bond0')['linkinfo']['info_data']
    assert info['mode'] == mode
    for opt, want in first.items():
        assert ip_value(info, opt) == want, (opt, info)
    assert [l['ifname'] for l in ip_json(netns, 'link', 'show', 'master', 'bond0')] == ['eth0', 'eth1']
    assert apply(netns, {'bond': [spec]})['changed'] is False
    spec.update(change)
    r = apply(netns, {'bond': [spec]}, diff_mode=True)
    assert r['operations'] == ['modify bond bond0'], r
    info = show(ip_json, netns, 'bond0')['linkinfo']['info_data']
    for opt, want in change.items():
        assert ip_value(info, opt) == want, (opt, info)
    assert apply(netns, {'bond': [spec]})['changed'] is False


def test_mode_change_releases_and_readds_ports_and_rolls_back(netns, ip, ip_json):
    nics(ip, netns, 'eth0', 'eth1')
    apply(netns, {'bond': [{'name': 'bond0', 'mode': 'active-backup', 'links': ['eth0', 'eth1'], 'miimon': 100, 'up': True}]})
    before = snapshot(netns)
    change = {'bond': [{'name': 'bond0', 'mode': '802.3ad', 'lacp_rate': 'fast', 'links': ['eth0', 'eth1']}],
              'address': [{'address': '192.0.2.10/24', 'link': 'bond0'}]}
    with pytest.raises(ApplyError) as e:
        apply(netns, change, fail_after=1)
    assert 'rolled back' in str(e.value)
    assert same(netns, before)
    assert show(ip_json, netns, 'bond0')['linkinfo']['info_data']['mode'] == 'active-backup'
    r = apply(netns, change)
    assert r['operations'] == ['modify bond bond0', 'create address bond0 192.0.2.10/24']
    bond = show(ip_json, netns, 'bond0')
    assert bond['linkinfo']['info_data']['mode'] == '802.3ad' and bond['linkinfo']['info_data']['ad_lacp_rate'] == 'fast'
    assert 'UP' in bond['flags']
    assert sorted(l['ifname'] for l in ip_json(netns, 'link', 'show', 'master', 'bond0')) == ['eth0', 'eth1']
    assert apply(netns, change)['changed'] is False


def test_options_newer_than_pyroute2_knows(netns, ip, ip_json):
    """peer_notif_delay, missed_max, ns_ip6_targets and ad_lacp_active are set and read back."""
    nics(ip, netns, 'eth0')
    ab = {'name': 'bond0', 'mode': 'active-backup', 'links': ['eth0'], 'miimon': 100, 'peer_notif_delay': 200,
          'num_peer_notif': 2}
    arp = {'name': 'bond1', 'mode': 'active-backup', 'arp_interval': 100, 'arp_ip_targets': ['192.0.2.1'],
           'ns_ip6_targets': ['2001:db8::1'], 'missed_max': 4}
    lacp = {'name': 'bond2', 'mode': '802.3ad', 'ad_lacp_active': False, 'ad_user_port_key': 5}
    apply(netns, {'bond': [ab, arp, lacp]})
    i0 = show(ip_json, netns, 'bond0')['linkinfo']['info_data']
    i1 = show(ip_json, netns, 'bond1')['linkinfo']['info_data']
    i2 = show(ip_json, netns, 'bond2')['linkinfo']['info_data']
    assert i0['peer_notify_delay'] == 200 and i0['num_peer_notif'] == 2
    assert i1['ns_ip6_target'] == ['2001:db8::1'] and i1['arp_missed_max'] == 4
    assert i2['ad_lacp_active'] in ('off', 0) and i2['ad_user_port_key'] == 5
    assert apply(netns, {'bond': [ab, arp, lacp]})['changed'] is False


def test_option_that_does_not_fit_the_mode_is_refused(netns, ip):
    nics(ip, netns, 'eth0')
    before = snapshot(netns)
    with pytest.raises(ValidationError) as e:
        apply(netns, {'bond': [{'name': 'bond0', 'mode': 'active-backup', 'lacp_rate': 'fast', 'links': ['eth0']}]})
    assert e.value.field == 'lacp_rate' and '802.3ad' in str(e.value)
    apply(netns, {'bond': [{'name': 'bond0', 'mode': 'balance-rr'}]})
    with pytest.raises(ValidationError) as e:   # the mode comes from the kernel when not given
        apply(netns, {'bond': [{'name': 'bond0', 'primary_reselect': 'better'}]})
    assert e.value.field == 'primary_reselect' and 'active-backup' in str(e.value) and 'balance-rr' in str(e.value)
    with pytest.raises(ValidationError) as e:
        apply(netns, {'bond': [{'name': 'bond9', 'miimon': 100, 'arp_interval': 100}]})
    assert e.value.field == 'arp_interval'
    assert [l['name'] for l in snapshot(netns)['links']] == [l['name'] for l in before['links']] + ['bond0']


def test_vlans_on_nic_bond_bridge_and_qinq(netns, ip, ip_json):
    nics(ip, netns, 'eth0', 'eth1', 'eth2')
    desired = {
        'bond': [{'name': 'bond0', 'mode': 'active-backup', 'links': ['eth0', 'eth1'], 'mtu': 9000, 'up': True}],
        'vlan': [{'name': 'eth2.10', 'parent': 'eth2', 'vlan_id': 10},
                 {'name': 'bond0.100', 'parent': 'bond0', 'vlan_id': 100, 'mtu': 9000, 'up': True},
                 {'name': 'br0.30', 'parent': 'br0', 'vlan_id': 30},
                 {'name': 'eth2.300', 'parent': 'eth2', 'vlan_id': 300, 'protocol': '802.1ad'},
                 {'name': 'eth2.300.7', 'parent': 'eth2.300', 'vlan_id': 7}],
        'bridge': [{'name': 'br0', 'links': ['bond0.100'], 'up': True}],
    }
    r = apply(netns, desired)
    ops = r['operations']
    # parents before children, whatever the order of the declaration
    assert ops.index('create bond bond0') < ops.index('create vlan bond0.100') < ops.index('create bridge br0') < ops.index('create vlan br0.30')
    assert ops.index('create vlan eth2.300') < ops.index('create vlan eth2.300.7')
    v = show(ip_json, netns, 'bond0.100')
    assert v['linkinfo']['info_data']['id'] == 100 and v['link'] == 'bond0' and v['mtu'] == 9000
    # the bond's MTU reached its ports
    assert show(ip_json, netns, 'eth0')['mtu'] == 9000
    outer = show(ip_json, netns, 'eth2.300')['linkinfo']['info_data']
    assert outer['protocol'] == '802.1ad' and outer['id'] == 300
    inner = show(ip_json, netns, 'eth2.300.7')
    assert inner['link'] == 'eth2.300' and inner['linkinfo']['info_data']['protocol'] == '802.1Q'
    assert show(ip_json, netns, 'br0.30')['link'] == 'br0'
    assert show(ip_json, netns, 'bond0.100')['master'] == 'br0'
    assert apply(netns, desired)['changed'] is False
    info = dict((l['name'], l) for l in gather(netns, ['links'])['links'])
    assert info['bond0']['ports'] == ['eth0', 'eth1'] and info['bond0']['mode'] == 'active-backup'
    assert info['bond0']['active_slave'] in ('eth0', 'eth1')
    assert info['bond0.100']['vlan_id'] == 100 and info['bond0.100']['parent'] == 'bond0'
    assert info['eth0']['master'] == 'bond0' and info['eth0']['bond_port']['state'] in ('active', 'backup')


def test_vlan_mtu_above_parent_and_fixed_fields_refused(netns, ip):
    nics(ip, netns, 'eth0')
    ip(netns, 'link', 'set', 'eth0', 'mtu', '1500')
    with pytest.raises(ValidationError) as e:
        apply(netns, {'vlan': [{'name': 'eth0.5', 'parent': 'eth0', 'vlan_id': 5, 'mtu': 9000}]})
    assert e.value.field == 'mtu' and '1500' in str(e.value)
    # raising the parent in the same plan makes it fit
    r = apply(netns, {'link': [{'name': 'eth0', 'mtu': 9000}], 'vlan': [{'name': 'eth0.5', 'parent': 'eth0', 'vlan_id': 5, 'mtu': 9000}]})
    assert r['operations'] == ['modify link eth0', 'create vlan eth0.5']
    with pytest.raises(ValidationError) as e:
        apply(netns, {'vlan': [{'name': 'eth0.5', 'parent': 'eth0', 'vlan_id': 6}]})
    assert e.value.field == 'vlan_id' and 'removed first' in str(e.value)


def test_kernel_refusal_part_way_rolls_back(netns, ip, ip_json):
    """The kernel refuses a second VLAN 20 on eth0 (EEXIST) after the bond and a VLAN were made."""
    nics(ip, netns, 'eth0', 'eth1', 'eth2')
    ip(netns, 'link', 'add', 'link', 'eth2', 'name', 'old20', 'type', 'vlan', 'id', '20')
    before = snapshot(netns)
    with pytest.raises(ApplyError) as e:
        apply(netns, {'bond': [{'name': 'bond0', 'mode': '802.3ad', 'links': ['eth0', 'eth1']}],
                      'vlan': [{'name': 'bond0.5', 'parent': 'bond0', 'vlan_id': 5},
                               {'name': 'new20', 'parent': 'eth2', 'vlan_id': 20}]})
    assert "create VLAN 'new20'" in str(e.value) and 'rolled back' in str(e.value)
    assert same(netns, before)


def test_bridge_vlan_filtering_with_per_port_vlans(netns, ip):
    nics(ip, netns, 'eth0')
    ip(netns, 'link', 'add', 'vm1', 'type', 'veth', 'peer', 'name', 'vm1p')
    desired = {'bridge': [{'name': 'br1', 'vlan_filtering': True, 'default_pvid': 0, 'up': True,
                           'links': [{'name': 'eth0', 'vlans': [10, 20, 30]},
                                     {'name': 'vm1', 'cost': 5, 'vlans': [{'vid': 20, 'pvid': True, 'untagged': True}]}]}]}
    apply(netns, desired)
    assert bridge_vlans(netns, 'eth0') == [(10, False, False), (20, False, False), (30, False, False)]
    assert bridge_vlans(netns, 'vm1') == [(20, True, True)]
    assert apply(netns, desired)['changed'] is False
    before = snapshot(netns)
    changed = copy.deepcopy(desired)
    changed['bridge'][0]['links'][0]['vlans'] = [10, {'vid': 40, 'untagged': True}]
    with pytest.raises(ApplyError):
        apply(netns, dict(changed, address=[{'address': '192.0.2.1/24', 'link': 'br1'}]), fail_after=1)
    assert same(netns, before) and bridge_vlans(netns, 'eth0') == [(10, False, False), (20, False, False), (30, False, False)]
    r = apply(netns, changed, diff_mode=True)
    assert r['operations'] == ['modify bridge br1']
    assert bridge_vlans(netns, 'eth0') == [(10, False, False), (40, False, True)]
    assert apply(netns, changed)['changed'] is False


WORKED_EXAMPLE = 'tests/integration/playbooks/bond_vlan_bridge.yml'


def test_worked_example_playbook(netns, ip, ip_json, ansible_runner):
    """The README's example as a playbook: from empty, again with changed=0, then --check --diff
    after a change shows it and touches nothing."""
    nics(ip, netns, 'eth1', 'eth2')
    first = ansible_runner.playbook(WORKED_EXAMPLE, {'netns': netns})
    # three tasks (the VLANs are one looped task), all changed
    assert first['failed'] == 0 and first['changed'] == 3, first
    assert show(ip_json, netns, 'br100')['linkinfo']['info_kind'] == 'bridge'
    assert show(ip_json, netns, 'bond0.100')['master'] == 'br100'
    assert show(ip_json, netns, 'bond0.200')['link'] == 'bond0'
    assert sorted(l['ifname'] for l in ip_json(netns, 'link', 'show', 'master', 'bond0')) == ['eth1', 'eth2']
    second = ansible_runner.playbook(WORKED_EXAMPLE, {'netns': netns})
    assert second['failed'] == 0 and second['changed'] == 0, second
    before = snapshot(netns)
    check = ansible_runner.playbook(WORKED_EXAMPLE, {'netns': netns, 'vlan200_mtu': 1400}, check=True, diff=True)
    assert check['failed'] == 0 and check['changed'] == 1, check
    assert any('mtu: 1400' in (d.get('after') or '') for d in check['diffs']), check
    assert same(netns, before)
