"""Kernel tier: a failed change leaves the node exactly as it was - compared on the full `ip -d -j`
dumps (links, addresses, routes of every table, rules) and every per-link sysctl, not only on
network_info: side effects included (promote_secondaries, IPv6 address flags such as nodad and
noprefixroute, address lifetimes, the routes the kernel removed with an address)."""
import json
import time

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError

from conftest import sh

LIFETIME_SLACK = 5   # seconds the kernel counts lifetimes down between the two dumps, at most (plus the test's own time)


def setup_node(netns):
    network.converge({'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}, {'name': 'sw0', 'up': True}],
                      'addresses': [{'address': '192.0.2.10/24', 'link': 'eth0'}]}, netns=netns)
    for cmd in (['addr', 'add', '198.51.100.10/24', 'dev', 'eth0'],
                ['addr', 'add', '203.0.113.10/24', 'dev', 'eth0', 'noprefixroute'],
                ['addr', 'add', '2001:db8::10/64', 'dev', 'eth0', 'nodad'],
                ['addr', 'add', '2001:db8:1::10/64', 'dev', 'eth0', 'nodad', 'noprefixroute'],
                ['addr', 'add', '2001:db8:2::10/64', 'dev', 'eth0', 'nodad', 'valid_lft', '3600', 'preferred_lft', '1800'],
                # the kernel drops a route whose source is an address it deletes
                ['route', 'add', '10.1.0.0/16', 'via', '198.51.100.1', 'src', '198.51.100.10'],
                ['route', 'add', '2001:db8:ff::/48', 'via', '2001:db8::1']):
        sh('ip', '-n', netns, *cmd)


def settled_dump(netns):
    """The dump, once nothing in it is tentative (the kernel's own link-local addresses and their DAD)."""
    t0 = time.time()
    while time.time() - t0 < 30:
        d = dump(netns)
        if 'tentative' not in json.dumps(d['addr']) and sum(1 for l in d['addr'] for a in l.get('addr_info', [])
                                                            if a.get('scope') == 'link' and a['family'] == 'inet6') >= 2:
            return d
        time.sleep(0.1)
    return dump(netns)


def dump(netns):
    out = {}
    for name, args in (('link', ['link']), ('addr', ['addr']), ('route4', ['-4', 'route', 'show', 'table', 'all']),
                       ('route6', ['-6', 'route', 'show', 'table', 'all']), ('rule4', ['-4', 'rule']), ('rule6', ['-6', 'rule'])):
        out[name] = json.loads(sh('ip', '-d', '-j', '-n', netns, *args).stdout or '[]')
    for link in out['link'] + out['addr']:
        link.pop('operstate', None)   # follows the peer's carrier, asynchronously
        link['flags'] = sorted(f for f in link.get('flags', []) if f not in ('LOWER_UP', 'NO-CARRIER'))
    for link in out['addr']:
        # the kernel lists a link's addresses in the order they were added; a rolled-back removal adds one
        # again at the end. Which IPv4 address is the primary is compared: the `secondary` flag.
        link['addr_info'] = sorted(link.get('addr_info', []), key=lambda a: (a['family'], a['local']))
    for k in ('route4', 'route6'):
        out[k] = sorted(out[k], key=lambda r: json.dumps(r, sort_keys=True))
    out['sysctl'] = sorted(sh('ip', 'netns', 'exec', netns, 'sh', '-c',
                              'cd /proc/sys/net && grep -r . ipv4/conf ipv6/conf 2>/dev/null', check=False).stdout.splitlines())
    return out


def same(before, after):
    """[differences]: exact, except that lifetimes may have counted down by a few seconds."""
    diffs = []
    b_addr = dict(((l['ifname'], a['local']), a) for l in before['addr'] for a in l['addr_info'])
    a_addr = dict(((l['ifname'], a['local']), a) for l in after['addr'] for a in l['addr_info'])
    for k in sorted(set(b_addr) | set(a_addr)):
        x, y = dict(b_addr.get(k) or {}), dict(a_addr.get(k) or {})
        for lft in ('valid_life_time', 'preferred_life_time'):
            if isinstance(x.get(lft), int) and isinstance(y.get(lft), int) and x[lft] < 4294967295 \
                    and 0 <= x[lft] - y[lft] <= LIFETIME_SLACK:
                y[lft] = x[lft]
        if x != y:
            diffs.append('address %s %s: before %s, after %s' % (k[0], k[1], json.dumps(x, sort_keys=True), json.dumps(y, sort_keys=True)))
    for part in ('route4', 'route6'):   # a prefix route of an expiring address expires with it
        b_exp = dict((json.dumps(dict(r, expires=None), sort_keys=True), r.get('expires')) for r in before[part])
        a_exp = dict((json.dumps(dict(r, expires=None), sort_keys=True), r.get('expires')) for r in after[part])
        for k in sorted(set(b_exp) & set(a_exp)):
            if b_exp[k] != a_exp[k] and not (b_exp[k] is not None and a_exp[k] is not None and 0 <= b_exp[k] - a_exp[k] <= LIFETIME_SLACK):
                diffs.append('%s %s: expires %s before, %s after' % (part, k, b_exp[k], a_exp[k]))
        before[part] = sorted(b_exp)
        after[part] = sorted(a_exp)
    for part in ('link', 'route4', 'route6', 'rule4', 'rule6', 'sysctl'):
        b = [json.dumps(x, sort_keys=True) for x in before[part]]
        a = [json.dumps(x, sort_keys=True) for x in after[part]]
        diffs += ['%s only before: %s' % (part, x) for x in b if x not in a]
        diffs += ['%s only after: %s' % (part, x) for x in a if x not in b]
    for l in before['addr']:
        l.pop('addr_info')
    for l in after['addr']:
        l.pop('addr_info')
    if before['addr'] != after['addr']:
        diffs.append('address lists of the links differ')
    return diffs


SPEC = {'links': [{'name': 'eth0', 'up': True, 'mtu': 1400}],
        'addresses': [{'address': '192.0.2.10/24', 'link': 'eth0'}, {'address': '192.0.2.20/24', 'link': 'eth0'}],
        'routes': [{'destination': '10.2.0.0/16', 'gateway': '192.0.2.1'}]}


@pytest.mark.parametrize('step', [1, 3, 5, 7])
def test_failure_at_any_step_of_a_purge_restores_the_node_exactly(netns, step):
    setup_node(netns)
    before = settled_dump(netns)
    assert 'ipv4/conf/eth0/promote_secondaries:0' in before['sysctl']
    with pytest.raises(ApplyError) as exc:
        network.converge(json.loads(json.dumps(SPEC)), netns=netns, purge=['addresses'], fail_after=step)
    assert exc.value.rolled_back, str(exc.value)
    after = dump(netns)
    diffs = same(before, after)
    assert not diffs, '\n'.join(diffs)


def test_kernel_refusal_after_a_purge_restores_the_node_exactly(netns):
    setup_node(netns)
    before = settled_dump(netns)
    spec = json.loads(json.dumps(SPEC))
    # a route the kernel refuses (its gateway is behind a link that is down), after every deletion
    spec['links'].append({'name': 'dn0', 'kind': 'veth', 'peer': 'dn1'})
    spec['addresses'].append({'address': '10.98.0.1/24', 'link': 'dn0'})
    spec['routes'].append({'destination': '10.99.0.0/16', 'gateway': '10.98.0.254'})
    with pytest.raises(ApplyError) as exc:
        network.converge(spec, netns=netns, purge=['addresses'])
    assert exc.value.rolled_back and '10.99.0.0/16' in str(exc.value), str(exc.value)
    diffs = same(before, dump(netns))
    assert not diffs, '\n'.join(diffs)


def test_the_purge_itself_succeeds_and_is_what_was_asked(netns):
    """The same change without a fault: the purged addresses are gone (so the tests above did undo something)."""
    setup_node(netns)
    r = network.converge(json.loads(json.dumps(SPEC)), netns=netns, purge=['addresses'])
    assert sorted(o for o in r['operations'] if o.startswith('delete address')) == sorted(
        'delete address eth0 %s (purge)' % a for a in ('198.51.100.10/24', '203.0.113.10/24', '2001:db8::10/64',
                                                       '2001:db8:1::10/64', '2001:db8:2::10/64'))
    got = json.loads(sh('ip', '-j', '-n', netns, 'addr', 'show', 'dev', 'eth0').stdout)[0]['addr_info']
    assert sorted(a['local'] for a in got if a['scope'] == 'global') == ['192.0.2.10', '192.0.2.20']
    assert '10.1.0.0/16' not in sh('ip', '-n', netns, 'route').stdout
