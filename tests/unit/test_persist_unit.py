"""The boot unit persist: true writes: it waits for the NICs it configures (udev announces them while
early boot units already run) and for nothing in a namespace or that the state creates itself."""

from __future__ import annotations

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import persist as agent

PATHS = ('/etc/nodenet/state.json', '/etc/systemd/system/nodenet.service', '/usr/local/lib/seed-nodenet')


def unit_lines(spec, netns=None):
    files = agent.persist_files(spec, netns, [], *PATHS)
    return dict(line.split('=', 1) for line in files[PATHS[1]].splitlines() if '=' in line and not line.startswith('#'))


def test_the_unit_waits_for_the_nics_it_configures():
    unit = unit_lines({'links': [{'name': 'eth1', 'mtu': 1400}, {'name': 'br-lan'}, {'name': 'v0', 'kind': 'veth'}],
                       'vlans': [{'name': 'eth1.100', 'parent': 'eth1', 'vlan_id': 100}]})
    devices = ['sys-subsystem-net-devices-br\\x2dlan.device', 'sys-subsystem-net-devices-eth1.device']
    for key in ('After', 'Wants'):
        assert [u for u in unit[key].split() if u.endswith('.device')] == devices, unit[key]
    assert unit['Before'] == 'network-pre.target network.target network-online.target'


def test_no_device_waits_in_a_namespace_or_without_links():
    assert 'device' not in unit_lines({'links': [{'name': 'eth1'}]}, netns='lab-a')['After']
    unit = unit_lines({'addresses': [{'address': '192.0.2.1/24', 'link': 'lo'}]})
    assert unit['Wants'] == 'network-pre.target network.target'
    assert unit['After'] == 'local-fs.target systemd-modules-load.service systemd-udev-settle.service'
