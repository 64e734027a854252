"""Kernel tier for Talos configs in and out: a multi-document Talos network config applied on a
fresh namespace (what `talos_config` does), checked with `ip`; exported from the namespace
(network_info's `export: talos`) and read back, which plans nothing; a v1alpha1 machine config
with deviceSelectors resolved against the namespace's links and their hardware facts; static hosts
exported from a hosts file's managed block and read back.

Bonds, VLANs, WireGuard and dummy links need kernel modules this machine lacks: their
translation is covered by the unit cases (tests/unit/cases/talos.yml)."""
import json
import subprocess

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import firewall, network
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos import adopt

from conftest import sh

NODE = """
apiVersion: v1alpha1
kind: VethConfig
name: eth0
peer:
  name: sw0
mtu: 9000
addresses:
  - address: 192.0.2.10/24
  - address: 2001:db8::10/64
routes:
  - gateway: 192.0.2.1
  - destination: 10.20.0.0/16
    gateway: 192.0.2.254
    metric: 50
    table: "100"
---
apiVersion: v1alpha1
kind: VethConfig
name: eth1
peer:
  name: p1
  mtu: 1400
up: true
---
apiVersion: v1alpha1
kind: BridgeConfig
name: br0
links: [p1]
stp:
  enabled: false
addresses:
  - address: 198.51.100.1/24
---
apiVersion: v1alpha1
kind: Layer2VIPConfig
name: 192.0.2.100
link: eth0
---
apiVersion: v1alpha1
kind: RoutingRuleConfig
name: "1000"
src: 192.0.2.0/24
table: "100"
---
apiVersion: v1alpha1
kind: RoutingRuleConfig
name: "1100"
fwMark: 16
table: "100"
---
apiVersion: v1alpha1
kind: BlackholeRouteConfig
name: 203.0.113.0/24
---
apiVersion: v1alpha1
kind: NetworkDefaultActionConfig
ingress: block
---
apiVersion: v1alpha1
kind: NetworkRuleConfig
name: kubelet
portSelector:
  ports: [10250]
  protocol: tcp
ingress:
  - subnet: 192.0.2.0/24
  - subnet: 2001:db8::/64
    except: 2001:db8::66/128
---
apiVersion: v1alpha1
kind: KubeSpanConfig
enabled: true
"""
# What the round trip reads (resolver and host name come from this machine's own files, not the namespace).
NETNS_RESOURCES = ['links', 'addresses', 'routes', 'rules', 'wireguard', 'firewall', 'vips']


def run_command(argv, data=None, binary_data=False):
    """AnsibleModule.run_command's shape, which the engine takes as run="""
    p = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
    return p.returncode, p.stdout, p.stderr


def nft_ok():
    try:
        return subprocess.run(['nft', '--version'], capture_output=True, check=False).returncode == 0
    except OSError:
        return False


def apply_talos(netns, config, **kw):
    spec, unmapped, dummy = adopt.adopt(config, {}, netns)
    r = network.converge(spec, netns=netns, run=run_command, **kw)
    r.pop('_journal', None)
    return r, unmapped


def ipj(netns, *args):
    out = sh('ip', '-j', '-d', '-n', netns, *args).stdout
    return json.loads(out) if out.strip() else []


@pytest.mark.skipif(not nft_ok(), reason='the nft command is missing (package nftables): the firewall documents need it')
def test_talos_documents_apply_then_export_import_plans_nothing(netns):
    r, unmapped = apply_talos(netns, NODE)
    assert r['changed']
    # KubeSpan is reported by name, not dropped
    assert [u['field'] for u in unmapped] == ['talos_config[9]']
    assert 'KubeSpan' in unmapped[0]['reason']
    # what a user checks with ip(8)
    links = dict((l['ifname'], l) for l in ipj(netns, 'link', 'show'))
    assert links['eth0']['mtu'] == 9000 and links['eth0']['linkinfo']['info_kind'] == 'veth'
    assert 'UP' in links['eth0']['flags'] and 'UP' in links['sw0']['flags']     # Talos: up unless up: false
    assert links['p1']['master'] == 'br0' and links['p1']['mtu'] == 1400
    assert links['br0']['linkinfo']['info_data']['stp_state'] == 0
    addrs = sorted('%s %s/%d' % (l['ifname'], a['local'], a['prefixlen']) for l in ipj(netns, 'addr', 'show')
                   for a in l.get('addr_info', []) if a.get('scope') == 'global')
    assert addrs == ['br0 198.51.100.1/24', 'eth0 192.0.2.10/24', 'eth0 192.0.2.100/32', 'eth0 2001:db8::10/64']
    main = ipj(netns, 'route', 'show', 'default')
    assert [(x['gateway'], x['metric']) for x in main] == [('192.0.2.1', 1024)]     # Talos's default metric
    t100 = ipj(netns, 'route', 'show', 'table', '100')
    assert [(x['dst'], x['gateway'], x['metric']) for x in t100] == [('10.20.0.0/16', '192.0.2.254', 50)]
    assert [x['dst'] for x in ipj(netns, 'route', 'show', 'type', 'blackhole')] == ['203.0.113.0/24']
    rules4 = [(x['priority'], x.get('src'), x.get('fwmark'), x['table']) for x in ipj(netns, '-4', 'rule', 'show')]
    assert (1000, '192.0.2.0', None, '100') in rules4 and (1100, 'all', '0x10', '100') in rules4
    rules6 = [(x['priority'], x.get('fwmark')) for x in ipj(netns, '-6', 'rule', 'show')]
    assert (1100, '0x10') in rules6      # no src/dst: made for both families, as Talos does
    table = sh('ip', 'netns', 'exec', netns, 'nft', 'list', 'table', 'inet', 'nodenet').stdout
    assert 'policy drop' in table and 'tcp dport 10250' in table and 'comment "kubelet"' in table
    assert '2001:db8::65' in table and '2001:db8::67' in table    # 2001:db8::66 cut out of the subnet

    # idempotent: the same config again changes nothing
    r, dummy = apply_talos(netns, NODE)
    assert not r['changed'] and r['operations'] == []

    # export (network_info's export: talos) then import: a plan with no operations
    facts = gather(netns, NETNS_RESOURCES, run=firewall.command_runner(run_command))
    out = adopt.export_talos(facts)
    kinds = [d['kind'] for d in out['talos_documents']]
    assert kinds.count('VethConfig') == 2 and 'BridgeConfig' in kinds and 'Layer2VIPConfig' in kinds
    assert kinds.count('RoutingRuleConfig') == 2 and 'BlackholeRouteConfig' in kinds
    assert 'NetworkDefaultActionConfig' in kinds and 'NetworkRuleConfig' in kinds
    assert out['talos_not_exported'] == [], out['talos_not_exported']
    r, unmapped = apply_talos(netns, out['talos_config'], check_mode=True)
    assert unmapped == []
    assert r['operations'] == [] and not r['changed'], r['operations']


def test_v1alpha1_machine_config_with_device_selector(netns):
    sh('ip', '-n', netns, 'link', 'add', 'ens3', 'address', '52:54:00:aa:bb:01', 'type', 'veth', 'peer', 'name', 'peer3')
    config = """
version: v1alpha1
machine:
  network:
    interfaces:
      - deviceSelector:
          hardwareAddr: "52:54:00:aa:bb:*"
        addresses: [192.0.2.20/24]
        mtu: 1450
        routes:
          - network: 0.0.0.0/0
            gateway: 192.0.2.1
      - deviceSelector:
          hardwareAddr: "de:ad:*"
        addresses: [192.0.2.30/24]
      - interface: peer3
        ignore: true
"""
    r, unmapped = apply_talos(netns, config)
    assert r['changed']
    # the selector that matches nothing is reported by name, and nothing of that entry is applied
    assert [u['field'] for u in unmapped] == ['talos_config[0].machine.network.interfaces[1].deviceSelector']
    assert 'matched no link' in unmapped[0]['reason']
    link = [x for x in ipj(netns, 'addr', 'show') if x['ifname'] == 'ens3'][0]
    assert link['mtu'] == 1450 and 'UP' in link['flags']
    assert ['%s/%d' % (a['local'], a['prefixlen']) for a in link['addr_info'] if a['family'] == 'inet'] == ['192.0.2.20/24']
    assert [x['gateway'] for x in ipj(netns, 'route', 'show', 'default')] == ['192.0.2.1']
    peer = [x for x in ipj(netns, 'link', 'show') if x['ifname'] == 'peer3'][0]
    assert 'UP' not in peer['flags']     # ignore: true leaves it alone
    r, dummy = apply_talos(netns, config)
    assert not r['changed']


def test_device_selector_fields_pick_nics_the_way_talos_does(netns):
    """driver and hardware address globs (veths report driver 'veth'); a selector applies to every
    link it matches; physical: true matches no veth; a veth has no permanent address; pciID can't be
    matched here and is reported by name. Nothing of an entry that matched nothing is applied."""
    for name, peer, mac, pmac in (('en1', 'p1', '02:aa:00:00:00:01', '02:aa:00:00:00:11'),
                                  ('en2', 'p2', '02:bb:00:00:00:02', '02:bb:00:00:00:12')):
        sh('ip', '-n', netns, 'link', 'add', name, 'address', mac, 'type', 'veth', 'peer', 'name', peer, 'address', pmac)
    config = """
version: v1alpha1
machine:
  network:
    interfaces:
      - deviceSelector: {driver: veth, hardwareAddr: "02:AA:00:00:00:0*"}
        addresses: [192.0.2.21/24]
        mtu: 1400
      - deviceSelector: {driver: "ve*", hardwareAddr: "02:bb:*"}
        mtu: 1300
      - deviceSelector: {driver: veth, physical: true}
        addresses: [192.0.2.22/24]
      - deviceSelector: {permanentAddr: "02:*"}
        addresses: [192.0.2.23/24]
      - deviceSelector: {pciID: "1af4:*"}
        addresses: [192.0.2.24/24]
"""
    r, unmapped = apply_talos(netns, config)
    assert r['changed']
    base = 'talos_config[0].machine.network.interfaces'
    assert [u['field'] for u in unmapped] == [base + '[2].deviceSelector', base + '[3].deviceSelector',
                                              base + '[4].deviceSelector.pciID']
    assert 'matched no link' in unmapped[0]['reason'] and 'matched no link' in unmapped[1]['reason']
    assert 'PCI ID' in unmapped[2]['reason']
    links = dict((x['ifname'], x) for x in ipj(netns, 'addr', 'show'))
    assert links['en1']['mtu'] == 1400 and 'UP' in links['en1']['flags']
    assert [a['local'] for a in links['en1']['addr_info'] if a['family'] == 'inet'] == ['192.0.2.21']
    assert links['en2']['mtu'] == 1300 and links['p2']['mtu'] == 1300     # every match, as Talos
    assert links['p1']['mtu'] == 1500 and 'UP' not in links['p1']['flags']
    assert [a['local'] for x in links.values() for a in x.get('addr_info', []) if a['family'] == 'inet'
            and a['local'] != '127.0.0.1'] == ['192.0.2.21']
    r, dummy = apply_talos(netns, config)
    assert not r['changed']


def test_static_hosts_export_then_import_plans_nothing(netns, tmp_path):
    """StaticHostConfig -> the hosts file's managed block -> network_info's hosts -> StaticHostConfig
    again: the round trip plans nothing. The hosts file is the test's own (the machine's /etc/hosts
    is never written); the node's own lines outside the block are kept and not exported."""
    path = tmp_path / 'hosts'
    path.write_text('127.0.0.1 localhost\n192.0.2.99 own-line\n')
    config = """
apiVersion: v1alpha1
kind: StaticHostConfig
name: 192.0.2.20
hostnames: [registry.example.com, registry]
---
apiVersion: v1alpha1
kind: StaticHostConfig
name: 2001:db8::20
hostnames: [registry6]
"""

    def apply(text, **kw):
        spec, unmapped, dummy = adopt.adopt(text, {}, netns)
        spec['hosts']['path'] = str(path)
        r = network.converge(spec, netns=netns, run=run_command, **kw)
        return r, unmapped

    r, unmapped = apply(config)
    assert r['changed'] and unmapped == []
    text = path.read_text()
    assert '192.0.2.20 registry.example.com registry\n2001:db8::20 registry6\n' in text and '192.0.2.99 own-line' in text
    facts = gather(netns, ['hosts'], hosts_path=str(path))
    assert facts['hosts']['entries'] == [{'ip': '192.0.2.20', 'aliases': ['registry.example.com', 'registry']},
                                         {'ip': '2001:db8::20', 'aliases': ['registry6']}]
    out = adopt.export_talos(facts)
    assert [(d['kind'], d['name'], d['hostnames']) for d in out['talos_documents']] == [
        ('StaticHostConfig', '192.0.2.20', ['registry.example.com', 'registry']),
        ('StaticHostConfig', '2001:db8::20', ['registry6'])]
    r, unmapped = apply(out['talos_config'], check_mode=True)
    assert unmapped == [] and not r['changed'] and r['operations'] == [], r['operations']
    assert path.read_text() == text


def test_bad_talos_config_names_the_field_and_touches_nothing(netns):
    before = gather(netns, ['links', 'addresses'])
    with pytest.raises(Exception) as exc:
        apply_talos(netns, 'apiVersion: v1alpha1\nkind: LinkConfig\nname: lo\nmtux: 1500\n')
    assert 'talos_config[0].mtux' in str(exc.value) and "unknown field 'mtux'" in str(exc.value)
    assert gather(netns, ['links', 'addresses']) == before
