"""VIPs in a fresh namespace: assigned with the mark, announced on the wire (captured with tcpdump on the
veth peer), idempotent, removed cleanly, refused when the address is the node's own, rolled back."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather

pytestmark = pytest.mark.skipif(shutil.which('tcpdump') is None, reason='tcpdump is not installed (scripts/setup installs it)')

PAIR = {'link': [{'name': 'va', 'kind': 'veth', 'peer': 'vb', 'up': True}, {'name': 'vb', 'up': True}]}


class Capture(object):
    """tcpdump on one link of the namespace, written to a pcap file; read() stops it and decodes."""

    def __init__(self, netns, link, expr):
        self.dir = tempfile.mkdtemp(prefix='nnt-vip-')
        self.pcap = os.path.join(self.dir, 'cap.pcap')
        self.err = open(os.path.join(self.dir, 'stderr'), 'w+')
        self.proc = subprocess.Popen(['ip', 'netns', 'exec', netns, 'tcpdump', '-Z', 'root', '--immediate-mode',
                                      '-i', link, '-U', '-nn', '-w', self.pcap, expr],
                                     stdout=subprocess.DEVNULL, stderr=self.err)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            self.err.seek(0)
            if 'listening on' in self.err.read():
                return
            assert self.proc.poll() is None, 'tcpdump exited: %s' % open(self.err.name).read()
            time.sleep(0.05)
        raise AssertionError('tcpdump did not start listening within 20 s')

    def decode(self):
        out = subprocess.run(['tcpdump', '-r', self.pcap, '-nn', '-e', '-v'], capture_output=True, text=True, check=False).stdout
        # -v puts an NA's options on continuation lines: one packet per line
        return re.sub(r'\n\s+', ' ', out).strip().splitlines()

    def read(self, until, count=1):
        """Wait (bounded) until `count` captured packets contain `until` (the last ones expected), then stop."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len([p for p in self.decode() if until in p]) < count:
            time.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=20)
        return self.decode()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def capture(netns):
    caps = []

    def start(link='vb', expr='arp or (icmp6 and ip6[40] == 136)'):
        caps.append(Capture(netns, link, expr))
        return caps[-1]
    yield start
    for c in caps:
        c.close()


def mac(ip, link):
    return ip('link', 'show', 'dev', link)[0]['address']


def vips(netns):
    return [(r['address'], r['link'], r['held'], r['managed_by']) for r in gather(netns, ['vips'])['vips']]


def test_vip_assigned_marked_and_announced_v4_v6(netns, apply, ip, capture):
    apply(PAIR)
    cap = capture()
    desired = {'vip': [{'address': '192.0.2.100', 'link': 'va', 'announce_count': 4, 'announce_interval': 0.05},
                       {'address': '2001:db8::100', 'link': 'va', 'announce_count': 4, 'announce_interval': 0.05}]}
    r = apply(desired)
    assert r['operations'] == ['create vip va 192.0.2.100', 'create vip va 2001:db8::100']
    hw = mac(ip, 'va')
    packets = cap.read(until='neighbor advertisement', count=4)
    garp = [p for p in packets if 'ARP' in p]
    na = [p for p in packets if 'neighbor advertisement' in p]
    assert len(garp) == 4, packets
    assert len(na) == 4, packets
    for p in garp:
        assert '%s > ff:ff:ff:ff:ff:ff' % hw in p and 'Request who-has 192.0.2.100 tell 192.0.2.100' in p, p
    for p in na:
        assert '2001:db8::100 > ff02::1' in p and 'tgt is 2001:db8::100' in p and 'Flags [override]' in p, p
        assert 'hlim 255' in p and 'icmp6 sum ok' in p and 'link-address option (2), length 8 (1): %s' % hw in p, p
    # in the kernel: host addresses without a prefix route, the IPv6 one without DAD
    info = dict((a['local'], a) for link in ip('addr', 'show', 'dev', 'va') for a in link['addr_info'])
    assert info['192.0.2.100']['prefixlen'] == 32 and info['192.0.2.100'].get('noprefixroute')
    assert info['2001:db8::100']['prefixlen'] == 128 and info['2001:db8::100'].get('nodad')
    assert not [rt for rt in ip('route', 'show', 'dev', 'va') if rt['dst'].startswith('192.0.2')]
    assert vips(netns) == [('192.0.2.100/32', 'va', True, 'nodenet'), ('2001:db8::100/128', 'va', True, 'nodenet')]

    # idempotent: nothing planned, nothing sent (a VIP assigned afterwards marks the end of the capture)
    cap2 = capture()
    assert apply(desired)['changed'] is False
    apply({'vip': [{'address': '192.0.2.200', 'link': 'va', 'announce_count': 1}]})
    packets = cap2.read(until='who-has 192.0.2.200')
    assert len(packets) == 1 and 'who-has 192.0.2.200 tell 192.0.2.200' in packets[0], packets


def test_vip_check_mode_diff_and_clean_removal(netns, apply, ip):
    apply(dict(PAIR, address=[{'address': '192.0.2.10/24', 'link': 'va'}]))
    desired = {'vip': [{'address': '192.0.2.100/32', 'link': 'va', 'announce_count': 0}]}
    r = apply(desired, check_mode=True, diff_mode=True)
    assert r['changed'] and r['operations'] == ['create vip va 192.0.2.100']
    assert '192.0.2.100/32' in str(r['diff'])
    assert vips(netns) == []
    apply(desired)
    assert vips(netns) == [('192.0.2.100/32', 'va', True, 'nodenet')]
    gone = {'vip': [{'address': '192.0.2.100', 'link': 'va', 'state': 'absent'}]}
    assert apply(gone, check_mode=True)['operations'] == ['delete vip va 192.0.2.100']
    assert vips(netns) != []
    apply(gone)
    assert vips(netns) == []
    # the node's own address (the primary of the same subnet) is untouched, and removing again is a no-op
    assert [a['local'] for link in ip('addr', 'show', 'dev', 'va') for a in link['addr_info'] if a['family'] == 'inet'] == ['192.0.2.10']
    assert apply(gone)['changed'] is False


def test_vip_refuses_an_ordinary_address_and_bad_input(netns, apply, ip):
    apply(dict(PAIR, address=[{'address': '192.0.2.10/24', 'link': 'va'}]))
    before = ip('addr', 'show')
    with pytest.raises(ValidationError) as e:
        apply({'vip': [{'address': '192.0.2.10', 'link': 'va'}]})
    assert e.value.field == 'address' and 'ordinary address' in str(e.value)
    for bad, field in ((dict(address='fe80::1'), 'address'), (dict(address='300.1.1.1'), 'address'),
                       (dict(announce_count=1000), 'announce_count'), (dict(announce_interval='soon'), 'announce_interval'),
                       (dict(link='no/such'), 'link')):
        entry = dict({'address': '192.0.2.100', 'link': 'va'}, **bad)
        with pytest.raises(ValidationError) as e:
            apply({'vip': [entry]})
        assert e.value.field == field, (bad, e.value)
    assert ip('addr', 'show') == before


def test_vip_rolled_back_with_the_plan_and_kept_by_purge(netns, apply, ip):
    apply(PAIR)
    spec = {'addresses': [{'address': '192.0.2.10/24', 'link': 'va'}],
            'vips': [{'address': '192.0.2.100', 'link': 'va', 'announce_count': 1}],
            'routes': [{'destination': '198.51.100.0/24', 'gateway': '192.0.2.1'}]}
    with pytest.raises(ApplyError) as e:
        network.converge(spec, netns=netns, fail_after=2)
    assert 'rolled back the 2 operation(s)' in str(e.value)
    assert vips(netns) == []
    assert [a for link in ip('addr', 'show', 'dev', 'va') for a in link['addr_info'] if a['family'] == 'inet'] == []
    r = network.converge(spec, netns=netns)
    assert r['operations'] == ['create address va 192.0.2.10/24', 'create vip va 192.0.2.100', 'create route 198.51.100.0/24 table main metric 0']
    # purge of addresses on the managed link leaves the VIP: the vips section (or keepalived) owns it
    r = network.converge({'links': [{'name': 'va'}], 'addresses': [{'address': '192.0.2.10/24', 'link': 'va'}]},
                         netns=netns, purge=['addresses'])
    assert r['changed'] is False
    assert vips(netns) == [('192.0.2.100/32', 'va', True, 'nodenet')]
