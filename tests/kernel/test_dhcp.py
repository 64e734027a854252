"""Kernel tier: DHCP on a link (links[].dhcp4/dhcp6) with the real client (dhcpcd) against a real
server (dnsmasq) in another fresh namespace across a veth. Every daemon, pid file, lease and socket
lives under the test's temporary directory and is stopped at the end."""
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import agent
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather

from conftest import sh

TIMEOUT = 180   # a lease waits for dhcpcd's ARP probe; at load 50+ the first one took over 60 s


def need(binary):
    if subprocess.run(['sh', '-c', 'command -v %s' % binary], capture_output=True, check=False).returncode != 0:
        pytest.skip('%s is not installed (scripts/setup installs it)' % binary)


def poll(what, func, timeout=TIMEOUT):
    """Bounded wait for func() to return something true."""
    deadline = time.time() + timeout
    while True:
        got = func()
        if got:
            return got
        if time.time() > deadline:
            raise AssertionError('timed out after %ds waiting for %s' % (timeout, what))
        time.sleep(0.2)


@pytest.fixture
def lan(netns, tmp_path, monkeypatch):
    """The node's namespace `netns` with eth0, cabled to a server namespace running dnsmasq."""
    need('dhcpcd')
    need('dnsmasq')
    run_dir = tmp_path / 'run'
    monkeypatch.setattr(agent, 'RUN_DIR', str(run_dir))
    srv = 'nnt-srv-%s' % uuid.uuid4().hex[:8]
    sh('ip', 'netns', 'add', srv)
    procs = []

    def dnsmasq(dns='192.0.2.53'):
        for p in procs:
            p.terminate()
            p.wait(10)
        procs[:] = []
        d = tmp_path / 'dnsmasq'
        d.mkdir(exist_ok=True)
        p = subprocess.Popen(['ip', 'netns', 'exec', srv, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0',
                              '--interface=sw', '--bind-interfaces', '--dhcp-authoritative', '--dhcp-rapid-commit', '--no-ping',
                              '--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h',
                              '--dhcp-option=option:router,192.0.2.1', '--dhcp-option=option:dns-server,%s' % dns,
                              '--dhcp-option=option:domain-search,lab.example',
                              '--dhcp-range=2001:db8:1::100,2001:db8:1::1ff,64,1h', '--enable-ra',
                              '--dhcp-option=option6:dns-server,[2001:db8:1::53]',
                              '--dhcp-leasefile=%s' % (d / 'leases'), '--pid-file=%s' % (d / 'pid'), '--log-facility=%s' % (d / 'log')],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        poll('dnsmasq to start', lambda: (d / 'pid').exists() or p.poll() is not None, 10)
        assert p.poll() is None, (d / 'log').read_text() if (d / 'log').exists() else 'dnsmasq exited'

    try:
        sh('ip', 'link', 'add', 'sw', 'netns', srv, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns)
        sh('ip', '-n', srv, 'addr', 'add', '192.0.2.1/24', 'dev', 'sw')
        sh('ip', '-n', srv, 'addr', 'add', '2001:db8:1::1/64', 'dev', 'sw', 'nodad')
        sh('ip', '-n', srv, 'link', 'set', 'sw', 'up')
        sh('ip', '-n', netns, 'link', 'set', 'lo', 'up')
        dnsmasq()
        yield type('Lan', (), {'netns': netns, 'server': srv, 'run_dir': run_dir, 'dnsmasq': staticmethod(dnsmasq)})
    finally:
        for pidfile in run_dir.glob('dhcp/*/*/run/*.pid'):
            try:
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        for p in procs:
            p.terminate()
            p.wait(10)
        sh('ip', 'netns', 'del', srv, check=False)


def addrs(netns, family='-4'):
    out = sh('ip', '-j', family, '-n', netns, 'addr', 'show', 'dev', 'eth0').stdout
    return [a for i in json.loads(out or '[]') for a in i.get('addr_info', []) if a.get('scope') == 'global']


def clients(lan):
    return list(lan.run_dir.glob('dhcp/*/*/run/*.pid'))


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as fh:
            return fh.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def test_dhcp4_lease_static_side_by_side_idempotent_then_stopped(lan):
    ns = lan.netns
    spec = {'links': [{'name': 'eth0', 'up': True, 'dhcp4': True, 'dhcp_options': {'route_metric': 700}}],
            'addresses': [{'address': '198.51.100.7/24', 'link': 'eth0'}],
            'purge': ['addresses', 'routes', 'daemon_routes']}
    purge = spec.pop('purge')
    check = network.converge(spec, netns=ns, check_mode=True, purge=purge)
    assert check['changed'] and 'create dhcp eth0' in check['operations'] and not clients(lan)
    r = network.converge(spec, netns=ns, purge=purge)
    assert 'create dhcp eth0' in r['operations']
    leased = poll('a DHCP address on eth0', lambda: [a for a in addrs(ns) if a['local'].startswith('192.0.2.')])
    assert leased[0]['prefixlen'] == 24 and leased[0]['valid_life_time'] < 0xFFFFFFFF     # a lease, not a static address
    assert [a for a in addrs(ns) if a['local'] == '198.51.100.7']                           # the static one beside it
    routes = poll('the DHCP default route', lambda: json.loads(sh('ip', '-j', '-n', ns, 'route', 'show', 'default').stdout or '[]'))
    assert routes[0]['gateway'] == '192.0.2.1' and routes[0]['metric'] == 700 and routes[0]['protocol'] == 'dhcp'
    info = poll('the lease in network_info', lambda: [d for d in gather(ns, ['dhcp'])['dhcp'] if d.get('lease4')])
    lease = info[0]['lease4']
    assert info[0]['link'] == 'eth0' and info[0]['running'] and info[0]['route_metric'] == 700
    assert lease['address'] == '%s/24' % leased[0]['local'] and lease['gateways'] == ['192.0.2.1']
    assert lease['dns_servers'] == ['192.0.2.53'] and lease['search_domains'] == ['lab.example']
    st = gather(ns, ['addresses', 'routes'])
    marked = dict((a['address'], a.get('operator')) for a in st['addresses'] if a['link'] == 'eth0' and a['family'] == 'inet4')
    assert marked == {lease['address']: 'dhcp4', '198.51.100.7/24': None}
    assert [r.get('operator') for r in st['routes'] if r['destination'] in ('default', '0.0.0.0/0')] == ['dhcp4']
    # the lease is not a change: the next run, purge included, does nothing
    again = network.converge(spec, netns=ns, purge=purge)
    assert again['changed'] is False, again['operations']
    # the client survives the run (it is nobody's child here) and stops on dhcp4: false, taking its lease along
    pid = int(clients(lan)[0].read_text().split()[0])
    assert alive(pid)
    spec['links'][0]['dhcp4'] = False
    spec['links'][0].pop('dhcp_options')
    off = network.converge(spec, netns=ns, purge=purge)
    assert off['operations'] == ['delete dhcp eth0']
    assert not alive(pid) and not clients(lan)
    poll('the lease address to go', lambda: not [a for a in addrs(ns) if a['local'].startswith('192.0.2.')])
    assert [a['local'] for a in addrs(ns)] == ['198.51.100.7']
    assert network.converge(spec, netns=ns, purge=purge)['changed'] is False


def test_a_renewed_lease_is_picked_up_and_a_settings_change_restarts_the_client(lan):
    ns = lan.netns
    spec = {'links': [{'name': 'eth0', 'up': True, 'dhcp4': True}]}
    network.converge(spec, netns=ns)
    first = poll('the first lease', lambda: [d for d in gather(ns, ['dhcp'])['dhcp'] if d.get('lease4')])[0]
    assert first['lease4']['dns_servers'] == ['192.0.2.53']
    route = json.loads(sh('ip', '-j', '-n', ns, 'route', 'show', 'default').stdout)
    assert route[0]['metric'] == 1024           # Talos's default metric for DHCP routes
    # the server now hands out another DNS server; the client renews (SIGUSR1: what its renewal timer does)
    lan.dnsmasq(dns='192.0.2.54')
    os.kill(first['pid'], signal.SIGUSR1)
    renewed = poll('the renewed lease', lambda: [d for d in gather(ns, ['dhcp'])['dhcp']
                                                 if (d.get('lease4') or {}).get('dns_servers') == ['192.0.2.54']])[0]
    assert renewed['pid'] == first['pid'] and renewed['lease4']['address'] == first['lease4']['address']
    assert network.converge(spec, netns=ns)['changed'] is False          # a renewal is no change
    # a changed metric restarts the client
    spec['links'][0]['dhcp_options'] = {'route_metric': 50}
    r = network.converge(spec, netns=ns, diff_mode=True)
    assert r['operations'] == ['modify dhcp eth0']
    assert 'route_metric: 1024' in r['diff'][0]['before'] and 'route_metric: 50' in r['diff'][0]['after']
    info = poll('the new client', lambda: [d for d in gather(ns, ['dhcp'])['dhcp'] if d.get('lease4')])
    assert info[0]['route_metric'] == 50 and info[0]['pid'] != first['pid']
    poll('the default route at metric 50',
         lambda: [x for x in json.loads(sh('ip', '-j', '-n', ns, 'route', 'show', 'default').stdout) if x.get('metric') == 50])
    assert network.converge(spec, netns=ns)['changed'] is False


def test_dhcp6_lease(lan):
    ns = lan.netns
    network.converge({'links': [{'name': 'eth0', 'up': True, 'dhcp6': True}]}, netns=ns)
    got = poll('a DHCPv6 address', lambda: [a for a in addrs(ns, '-6')
                                            if a['local'].startswith('2001:db8:1::') and 0x100 <= int(a['local'].rsplit(':', 1)[1], 16) <= 0x1ff])
    info = poll('the DHCPv6 lease in network_info', lambda: [d for d in gather(ns, ['dhcp'])['dhcp'] if (d.get('lease6') or {}).get('addresses')])
    assert got[0]['local'] in info[0]['lease6']['addresses']
    assert info[0]['lease6']['dns_servers'] == ['2001:db8:1::53']
    marked = [a for a in gather(ns, ['addresses'])['addresses'] if a['address'].split('/')[0] == got[0]['local']]
    assert marked[0]['operator'] == 'dhcp6'


def test_client_started_by_a_failed_run_is_stopped_by_the_rollback(lan):
    ns = lan.netns
    spec = {'links': [{'name': 'eth0', 'up': True, 'dhcp4': True}], 'addresses': [{'address': '198.51.100.7/24', 'link': 'eth0'}],
            'routes': [{'destination': '203.0.113.0/24', 'gateway': '198.51.100.1'}]}
    assert network.converge(spec, netns=ns, check_mode=True)['operations'] == [
        'modify link eth0', 'create address eth0 198.51.100.7/24', 'create dhcp eth0', 'create route 203.0.113.0/24 table main metric 0']
    with pytest.raises(NodenetError) as e:
        network.converge(spec, netns=ns, fail_after=3)     # the client has started when the route fails
    assert 'rolled back' in str(e.value)
    assert not clients(lan)
    assert not addrs(ns)


def test_dhcp_on_a_bridge_port_fails_naming_the_field(lan):
    with pytest.raises(ValidationError) as e:
        network.converge({'links': [{'name': 'eth0', 'dhcp4': True}], 'bridges': [{'name': 'br0', 'links': ['eth0']}]},
                         netns=lan.netns)
    assert e.value.field == 'links[0].dhcp4' and "port of 'br0'" in str(e.value)
    assert not clients(lan) and 'br0' not in sh('ip', '-n', lan.netns, 'link').stdout


def test_use_dns_writes_the_lease_servers_into_resolv_conf(lan, tmp_path):
    """use_dns lets dhcpcd's own Debian hook write resolv.conf - the node's, so the run is made inside the
    node as the netns connection runs it: in the link's network namespace (ip netns exec, no `netns`
    option) and a private mount namespace whose /etc/resolv.conf is a bind-mounted temporary file. The
    client inherits that namespace, so this machine's own resolv.conf is never written. With the `netns`
    option instead, use_dns is refused before anything is touched: a network namespace does not scope
    /etc/resolv.conf."""
    need('unshare')
    host_resolv = open('/etc/resolv.conf').read()
    resolv = tmp_path / 'resolv.conf'
    resolv.write_text('nameserver 203.0.113.99\n')
    spec = {'links': [{'name': 'eth0', 'up': True, 'dhcp4': True, 'dhcp_options': {'use_dns': True}}]}
    with pytest.raises(ValidationError) as e:
        network.converge(spec, netns=lan.netns)
    assert e.value.field == 'links[0].dhcp_options.use_dns' and "this machine's own file" in str(e.value)
    assert not clients(lan)
    code = ('import json, sys; from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network; '
            'print(json.dumps(network.converge(json.loads(sys.argv[1]))["operations"]))')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
               NODENET_RUN_DIR=str(lan.run_dir))

    def inside(state):
        res = subprocess.run(['ip', 'netns', 'exec', lan.netns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
                              'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"', 'sh', str(resolv),
                              sys.executable, '-c', code, json.dumps(state)],
                             capture_output=True, text=True, env=env, timeout=120, check=False)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout.strip().splitlines()[-1])

    assert inside(spec) == ['modify link eth0', 'create dhcp eth0']
    poll('the lease DNS server in resolv.conf', lambda: 'nameserver 192.0.2.53' in resolv.read_text())
    assert 'lab.example' in resolv.read_text()
    # the same state again is no change; dhcp4: false stops the client, whose hook takes its servers out
    assert inside(spec) == []
    assert network.converge({'links': [{'name': 'eth0', 'dhcp4': False}]}, netns=lan.netns)['operations'] == ['delete dhcp eth0']
    poll('the lease DNS server to leave resolv.conf', lambda: '192.0.2.53' not in resolv.read_text())
    assert open('/etc/resolv.conf').read() == host_resolv
