"""The VIP role in a lab: three control-plane nodes and a client on one switch, keepalived in each node as a
supervised process (no systemd here), a TCP listener on each node's port 6443 standing in for the API
server (no Kubernetes API server can run here).

The main test builds the lab with the role seed.nodenet.lab and runs this role on its inventory through the
seed.nodenet.netns connection, as an Ansible user would (vip_lab.RoleLab). Checked: the role run with
ansible-playbook (then again: changed=0), the client reaching the VIP (IPv4 and IPv6) and being answered by
the holder, network_info showing who holds it, the holder's keepalived stopped (by the role, --limit) moving
the VIP, a node whose API listener stops giving it away, and vip_state=absent stopping everything. The other
tests use the lab built directly with `ip` (vip_lab.Lab, also the benchmark's). Failover times are measured
in benchmarks/vip_failover.py, not asserted here."""
import json
import os
import shutil
import subprocess
import textwrap

import pytest

from .vip_lab import Lab, RoleLab, sh, wait_for

pytestmark = pytest.mark.skipif(shutil.which('keepalived') is None, reason='keepalived is not installed (scripts/setup installs it)')


@pytest.fixture
def lab():
    lab = Lab()
    try:
        yield lab.build()
    finally:
        lab.destroy()


def vips_info(lab, cluster):
    """network_info's vips on every control-plane node, asked through Ansible: {node: [(address, held, managed_by)]}."""
    play = os.path.join(lab.tmp, 'info.yml')
    out = os.path.join(lab.tmp, 'info')
    with open(play, 'w') as fh:
        fh.write(textwrap.dedent('''\
            - hosts: control_plane
              gather_facts: false
              tasks:
                - seed.nodenet.network_info:
                    gather: [vips]
                    keepalived_conf: /run/nodenet-vip/{{ inventory_hostname }}/keepalived.conf
                  register: info
                - ansible.builtin.copy:
                    content: "{{ info.vips | to_json }}"
                    dest: "%s-{{ inventory_hostname }}.json"
                    mode: "0644"
                  delegate_to: localhost
            ''' % out))
    r = lab._run(['-i', '/run/nodenet/lab/%s/inventory.yml' % lab.name, play])
    assert r['rc'] == 0, r['out'][-3000:]
    res = {}
    for node in lab.nodes:
        with open('%s-%s.json' % (out, node)) as fh:
            res[node] = sorted((v['address'], v['held'], v['managed_by']) for v in json.load(fh))
    return res


@pytest.fixture
def role_lab():
    if shutil.which('dnsmasq') is None:
        pytest.skip('the lab role needs dnsmasq (Debian package dnsmasq-base): run scripts/setup')
    lab = RoleLab()
    try:
        yield lab.build()
    finally:
        lab.destroy()


def test_keepalived_vip_on_lab_nodes_moves_on_stop_and_on_api_failure(role_lab):
    lab = role_lab
    cluster = lab.inventory()
    r = lab.playbook(cluster)
    assert r['rc'] == 0, r['out'][-4000:]
    assert sorted(r['recap']) == ['cp1', 'cp2', 'cp3'] and all(v['changed'] > 0 for v in r['recap'].values()), r['recap']

    # cp1 has the highest priority (first of the control_plane group): it takes both VIPs
    assert lab.holder() == 'cp1'
    assert lab.holder(lab.VIP6) == 'cp1'
    assert wait_for('the client reaching the VIP', lambda: lab.ask() == 'cp1', timeout=10)
    assert wait_for('the client reaching the IPv6 VIP', lambda: lab.ask(lab.VIP6) == 'cp1', timeout=10)
    info = vips_info(lab, cluster)
    assert info['cp1'] == [('192.168.77.50/32', True, 'keepalived'), ('fd00:77::50/128', True, 'keepalived')]
    assert info['cp2'] == info['cp3'] == [('192.168.77.50/32', False, 'keepalived'), ('fd00:77::50/128', False, 'keepalived')]

    # again: nothing to change, keepalived left running (not restarted: the VIP stays where it is)
    r = lab.playbook(cluster)
    assert r['rc'] == 0 and all(v['changed'] == 0 for v in r['recap'].values()), (r['recap'], r['out'][-3000:])
    assert lab.holders() == ['cp1']

    # the holder's keepalived stops: cp2 (next priority) takes over and answers the client
    assert 'stopped' in lab.supervise('cp1', 'stop').stdout
    assert lab.holder(not_='cp1') == 'cp2'
    assert lab.holder(lab.VIP6, not_='cp1') == 'cp2'
    assert wait_for('the client answered by cp2', lambda: lab.ask() == 'cp2', timeout=10)

    # cp1's keepalived comes back (its supervisor, as the role left it) and, having the higher priority, takes the VIP back
    assert 'started' in lab.supervise('cp1', 'start').stdout
    assert wait_for('cp1 holding the VIP again', lambda: lab.holders() == ['cp1'], timeout=30)

    # cp1's API server (the listener) stops: its health check fails and it gives the VIP away
    lab.stop_listener('cp1')
    assert lab.holder(not_='cp1', timeout=30) == 'cp2'
    assert wait_for('the client answered by cp2 again', lambda: lab.ask() == 'cp2', timeout=10)
    # ... and the check passing again gives it back
    lab.start_listener('cp1')
    assert wait_for('cp1 holding the VIP after its API is back', lambda: lab.holders() == ['cp1'], timeout=30)

    # everything stopped and cleaned up by the role
    r = lab.playbook(cluster, extra_vars={'vip_state': 'absent'})
    assert r['rc'] == 0, r['out'][-3000:]
    assert lab.holders() == [] and lab.holders(lab.VIP6) == []
    for node in lab.nodes:
        lab.stop_listener(node)
        assert lab.in_node(node, 'test', '-e', '/run/nodenet-vip/' + node).returncode == 1
        assert sh('ip', 'netns', 'pids', lab.ns[node]).stdout.split() == [], 'processes left in %s' % node


def test_check_mode_and_bad_input_change_nothing(lab):
    r = lab.playbook(lab.inventory(), '--check', '--diff')
    assert r['rc'] == 0 and all(v['changed'] > 0 for v in r['recap'].values()), r['out'][-3000:]
    assert 'would create' in r['out']
    assert not os.path.exists(lab.run_dir) and lab.holders() == []
    # (a provider outside the choices is refused by the role's argument spec, before any task)
    r = lab.playbook(lab.inventory(address='192.168.77.300'))
    assert r['rc'] != 0 and 'is not an IPv4 or IPv6 address' in r['out'], r['out'][-3000:]
    assert lab.holders() == []
    assert subprocess.run(['pgrep', '-f', lab.run_dir], capture_output=True, check=False).stdout == b''


def test_kube_vip_manifest_rendered_and_idempotent():
    """provider kube-vip: the static pod manifest as the kubelet would read it (no kubelet/API server here)."""
    import os
    import yaml
    lab = Lab()
    try:
        inv = lab.inventory(provider='kube-vip')
        manifest = os.path.join(lab.tmp, 'manifests', 'kube-vip.yaml')
        r = lab.playbook(inv, '--diff', extra_vars={'vip_kube_vip_manifest': manifest, 'vip_netns': ''})
        assert r['rc'] == 0, r['out'][-3000:]
        with open(manifest) as fh:
            pod = yaml.safe_load(fh)
        assert pod['kind'] == 'Pod' and pod['metadata']['namespace'] == 'kube-system' and pod['spec']['hostNetwork'] is True
        env = dict((e['name'], e['value']) for e in pod['spec']['containers'][0]['env'])
        assert env['vip_arp'] == 'true' and env['address'] == lab.VIP4 and env['vip_interface'] == 'eth0'
        assert env['port'] == '6443' and env['cp_enable'] == 'true' and env['vip_cidr'] == '32'
        caps = pod['spec']['containers'][0]['securityContext']['capabilities']['add']
        assert sorted(caps) == ['NET_ADMIN', 'NET_RAW']
        r = lab.playbook(inv, extra_vars={'vip_kube_vip_manifest': manifest, 'vip_netns': ''})
        assert r['rc'] == 0 and all(v['changed'] == 0 for v in r['recap'].values()), r['recap']
    finally:
        lab.destroy()
