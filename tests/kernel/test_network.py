"""Kernel tier for the whole-node engine (seed.nodenet.network): one plan for every kind,
cross-object validation, purge, files in the same transaction, rollback, confirm-or-revert
and persistence. Each test works in its own fresh namespace and on temporary files."""
import ipaddress
import json
import os
import shlex
import shutil
import subprocess
import uuid

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import agent
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, MissingReference, NodenetError, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather

from conftest import sh
from testlib import wait_for

NODE = {
    'links': [
        {'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'mtu': 9000, 'up': True},
        {'name': 'sw0', 'mtu': 9000, 'up': True},
        {'name': 'mv0', 'kind': 'macvlan', 'parent': 'eth0', 'mtu': 1500, 'up': True},
        {'name': 'vx0', 'kind': 'vxlan', 'vni': 10, 'local': '192.0.2.10', 'remote': '192.0.2.20',
         'parent': 'eth0', 'mtu': 8950, 'up': True},
    ],
    'addresses': [
        {'address': '192.0.2.10/24', 'link': 'eth0'},
        {'address': '2001:db8::10/64', 'link': 'eth0'},
        {'address': '10.10.0.1/24', 'link': 'vx0'},
        {'address': '198.51.100.7/24', 'link': 'mv0'},
    ],
    'routes': [
        {'destination': 'default', 'gateway': '192.0.2.1'},
        {'destination': '::/0', 'gateway': '2001:db8::1'},
        {'destination': '10.20.0.0/16', 'gateway': '10.10.0.2', 'table': 100},
        {'destination': '203.0.113.0/24', 'link': 'vx0', 'table': 100},
    ],
    'rules': [{'priority': 1000, 'src': '10.10.0.0/24', 'table': 100}],
}


def copy(spec):
    return json.loads(json.dumps(spec))


@pytest.fixture
def run(netns):
    def go(spec, **kw):
        r = network.converge(copy(spec), netns=netns, **kw)
        r.pop('_journal', None)
        return r
    return go


def global_addrs(ip):
    return sorted((l['ifname'], '%s/%d' % (a['local'], a['prefixlen'])) for l in ip('addr', 'show')
                  for a in l.get('addr_info', []) if a.get('scope') == 'global')


def test_whole_node_from_empty_in_one_call_then_idempotent(run, ip, netns, snapshot):
    empty = snapshot()
    r = run(NODE, check_mode=True, diff_mode=True)
    assert r['changed'] and len(r['operations']) == 4 + 4 + 4 + 1 - 0   # sw0 is modified, not created
    assert snapshot() == empty, 'check mode touched the namespace'
    # dependency order: links (parents first), then addresses, routes, rules
    kinds = [op.split()[1] for op in r['operations']]
    assert kinds == sorted(kinds, key=['link', 'address', 'route', 'rule'].index)
    assert r['operations'].index('create link eth0') < r['operations'].index('create link mv0')
    # the diff: one entry per object, grouped by section, headers naming the object
    headers = [d['after_header'] for d in r['diff']]
    assert headers[0].startswith('links: ') and headers[-1].startswith('rules: ')
    assert 'links: sw0 (after)' in headers
    sw0 = [d for d in r['diff'] if d['after_header'] == 'links: sw0 (after)'][0]
    assert sw0['after'] == 'link sw0:\n  mtu: 9000\n  up: true\n'

    r = run(NODE)
    assert r['changed']
    links = dict((l['ifname'], l) for l in ip('link', 'show'))
    assert links['eth0']['mtu'] == 9000 and links['mv0']['linkinfo']['info_kind'] == 'macvlan'
    assert links['vx0']['linkinfo']['info_data']['id'] == 10 and links['vx0']['mtu'] == 8950
    assert global_addrs(ip) == [('eth0', '192.0.2.10/24'), ('eth0', '2001:db8::10/64'),
                                ('mv0', '198.51.100.7/24'), ('vx0', '10.10.0.1/24')]
    t100 = ip('route', 'show', 'table', '100')
    assert sorted(x['dst'] for x in t100) == ['10.20.0.0/16', '203.0.113.0/24']
    assert [x for x in ip('route', 'show') if x['dst'] == 'default'][0]['gateway'] == '192.0.2.1'
    assert [x for x in ip('-6', 'route', 'show') if x['dst'] == 'default'][0]['gateway'] == '2001:db8::1'
    assert [x['priority'] for x in ip('rule', 'show') if x.get('table') == '100'] == [1000]

    assert run(NODE) == {'changed': False, 'operations': [], 'warnings': []}
    assert run(NODE, check_mode=True)['changed'] is False


@pytest.mark.parametrize('change, field, words', [
    ({'addresses': [{'address': '192.0.2.10/24', 'link': 'eth9'}]}, 'addresses[0].link', "link 'eth9' does not exist"),
    ({'addresses': [{'address': '192.0.2.10/24', 'link': 'eth0'}, {'address': '192.0.2.10/25', 'link': 'sw0'}]},
     'addresses[1].address', 'would be on both'),
    ({'routes': [{'destination': '10.1.0.0/16', 'gateway': '172.16.0.1'}]}, 'routes[0].gateway', 'not on the subnet'),
    ({'addresses': [{'address': '192.0.2.10/24', 'link': 'eth0'}],
      'routes': [{'destination': '10.1.0.0/16', 'gateway': '192.0.2.1', 'link': 'sw0'}]}, 'routes[0].gateway', "of link 'sw0'"),
    ({'routes': [{'destination': '2001:db8:1::/48', 'gateway': 'fe80::1'}]}, 'routes[0].link', 'link-local'),
    ({'links': [{'name': 'mv0', 'kind': 'macvlan', 'parent': 'eth0', 'mtu': 1600}]}, 'links[0].mtu', "parent 'eth0' has MTU 1500"),
    ({'links': [{'name': 'vx0', 'kind': 'vxlan', 'vni': 5, 'parent': 'eth0', 'local': '192.0.2.10', 'mtu': 1480}]},
     'links[0].mtu', 'VXLAN headers'),
    ({'links': [{'name': 'eth0', 'mtu': 1000}, {'name': 'mv0', 'kind': 'macvlan', 'parent': 'eth0', 'mtu': 1400}]},
     'links[1].mtu', 'has MTU 1000'),
    ({'links': [{'name': 'eth0', 'mtu': 'big'}]}, 'links[0].mtu', 'must be an integer'),
    ({'routes': [{'destination': '10.0.0.0/8', 'gateway': '192.0.2.1', 'colour': 'red'}]}, 'routes[0].colour', 'unknown option'),
    ({'hosts': {'entries': [{'ip': '192.0.2.1', 'aliases': ['bad_name']}]}}, 'hosts.entries[0].aliases[0]', 'invalid'),
    ({'vips': [{'address': '192.0.2.100'}]}, 'vips[0].link', 'a link name is required'),
    ({'vrrp': [{'address': '192.0.2.100'}]}, 'vrrp', 'unknown section'),
])
def test_bad_input_names_the_field_and_touches_nothing(run, netns, snapshot, tmp_path, change, field, words):
    """Every mistake is found before anything is applied; the node keeps its state."""
    sh('ip', '-n', netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'sw0')
    before = snapshot()
    spec = dict(change)
    # something valid to apply as well, so "nothing touched" means something
    spec.setdefault('links', [])
    spec['links'] = [{'name': 'extra0', 'kind': 'veth', 'peer': 'extra1', 'up': True}] + spec['links']
    fix = dict((s, [dict(e) for e in entries]) if isinstance(entries, list) else (s, entries) for s, entries in spec.items())
    if field.startswith('links['):   # one entry was added in front
        field = 'links[%d]%s' % (int(field[6]) + 1, field[8:])
    if 'hosts' in fix:
        fix['hosts'] = dict(fix['hosts'], path=str(tmp_path / 'hosts'))
    with pytest.raises(ValidationError) as exc:
        run(fix)
    assert exc.value.field == field, str(exc.value)
    assert words in str(exc.value)
    assert snapshot() == before
    assert not (tmp_path / 'hosts').exists()


def test_missing_reference_is_a_missing_reference(run):
    with pytest.raises(MissingReference):
        run({'routes': [{'destination': '10.0.0.0/8', 'link': 'nope0'}]})


def test_purge_removes_only_undeclared_objects_on_managed_links(run, ip, netns):
    base = {'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}, {'name': 'sw0', 'up': True}],
            'addresses': [{'address': '192.0.2.10/24', 'link': 'eth0'}],
            'routes': [{'destination': '10.1.0.0/16', 'gateway': '192.0.2.1', 'table': 100}],
            'rules': [{'priority': 1000, 'src': '192.0.2.0/24', 'table': 100}]}
    run(base)
    # things someone else added: on a managed link, and elsewhere
    for cmd in (['addr', 'add', '192.0.2.99/24', 'dev', 'eth0'], ['addr', 'add', '2001:db8::99/64', 'dev', 'eth0', 'nodad'],
                ['link', 'add', 'other0', 'type', 'veth', 'peer', 'other1'], ['link', 'set', 'other0', 'up'],
                ['addr', 'add', '172.16.0.1/24', 'dev', 'other0'],
                ['route', 'add', '10.2.0.0/16', 'via', '192.0.2.1', 'table', '100'],
                ['route', 'add', '10.3.0.0/16', 'via', '192.0.2.1'],
                ['route', 'add', '10.4.0.0/16', 'via', '172.16.0.2'],
                ['rule', 'add', 'priority', '1001', 'to', '10.9.0.0/16', 'table', '100'],
                ['rule', 'add', 'priority', '2000', 'fwmark', '0x10', 'table', '200']):
        sh('ip', '-n', netns, *cmd)
    r = run(base, purge=['addresses', 'routes', 'rules'], diff_mode=True)
    assert sorted(r['operations']) == sorted([
        'delete address eth0 192.0.2.99/24 (purge)', 'delete address eth0 2001:db8::99/64 (purge)',
        'delete route 10.2.0.0/16 table 100 metric 0 (purge)', 'delete route 10.3.0.0/16 table main metric 0 (purge)',
        'delete rule inet4 priority 1001 to 10.9.0.0/16 lookup 100 (purge)'])
    assert any('(purged)' in d['before_header'] for d in r['diff'])
    assert global_addrs(ip) == [('eth0', '192.0.2.10/24'), ('other0', '172.16.0.1/24')]
    assert sorted(x['dst'] for x in ip('route', 'show', 'table', '100')) == ['10.1.0.0/16']
    main = [x['dst'] for x in ip('route', 'show')]
    assert '10.3.0.0/16' not in main and '10.4.0.0/16' in main and '192.0.2.0/24' in main   # kernel's own route kept
    assert [x['priority'] for x in ip('rule', 'show') if x.get('table') in ('100', '200')] == [1000, 2000]
    assert any(a['local'].startswith('fe80') for l in ip('addr', 'show', 'dev', 'eth0') for a in l['addr_info'])
    assert run(base, purge=['addresses', 'routes', 'rules'])['changed'] is False
    with pytest.raises(ValidationError) as exc:
        run(base, purge=['links'])
    assert exc.value.field == 'purge'


def test_kernel_refusal_part_way_rolls_back_everything(run, netns, snapshot, tmp_path):
    """A route the kernel rejects (see refused_route) comes after links and addresses were created:
    all of it is undone and network_info reads exactly as before."""
    # sw0 up too: the kernel's own IPv6 link-local addresses are there before, as they would be after
    run({'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True, 'mtu': 1500}, {'name': 'sw0', 'up': True}],
         'addresses': [{'address': '192.0.2.10/24', 'link': 'eth0'}],
         'routes': [{'destination': '10.1.0.0/16', 'gateway': '192.0.2.1'}]})
    before = settled(snapshot, 2)
    hosts = tmp_path / 'hosts'
    hosts.write_text('127.0.0.1 localhost\n')
    bad = copy(NODE)
    bad['links'][0] = {'name': 'eth0', 'mtu': 9000, 'up': True}
    refused_route(bad)
    bad['hosts'] = {'entries': [{'ip': '192.0.2.10', 'aliases': ['node1']}], 'path': str(hosts)}
    with pytest.raises(ApplyError) as exc:
        run(bad, purge=['addresses', 'routes'])
    assert 'rolled back' in str(exc.value) and exc.value.rolled_back
    assert "route 10.99.0.0/16" in str(exc.value)
    assert snapshot() == before
    assert hosts.read_text() == '127.0.0.1 localhost\n'


def refused_route(spec, at=None):
    """Add to `spec` a route that passes validation but the kernel refuses (ENETUNREACH, "Nexthop has
    invalid gateway"): its gateway is on the subnet of an address on a link that is down, so the kernel has no
    connected route to it. Validation does not follow link state; the kernel does."""
    spec['links'].append({'name': 'dn0', 'kind': 'veth', 'peer': 'dn1'})
    spec['addresses'].append({'address': '10.98.0.1/24', 'link': 'dn0'})
    route = {'destination': '10.99.0.0/16', 'gateway': '10.98.0.254'}
    if at is None:
        spec['routes'].append(route)
    else:
        spec['routes'].insert(at, route)


def settled(snapshot, n):
    """The snapshot once the kernel has given the n up links their own IPv6 link-local addresses."""
    assert wait_for(lambda: len([a for a in snapshot()['addresses'] if a['address'].startswith('fe80')]) >= n)
    return snapshot()


def test_failure_at_every_step_leaves_the_node_as_before(run, snapshot):
    run({'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}, {'name': 'sw0', 'up': True}],
         'addresses': [{'address': '192.0.2.10/24', 'link': 'eth0'}, {'address': '192.0.2.11/24', 'link': 'eth0'}]})
    before = settled(snapshot, 2)
    n = len(run(NODE, check_mode=True, purge=['addresses'])['operations'])
    assert n > 10
    for step in range(n):
        with pytest.raises(ApplyError):
            run(NODE, purge=['addresses'], fail_after=step)
        assert snapshot() == before, 'state differs after a failure at step %d' % step


def test_file_failure_after_netlink_rolls_back_netlink(run, snapshot, tmp_path):
    before = snapshot()
    spec = copy(NODE)
    spec['hosts'] = {'entries': [{'ip': '192.0.2.10', 'aliases': ['node1']}], 'path': str(tmp_path / 'no' / 'such' / 'hosts')}
    with pytest.raises(ValidationError) as exc:
        run(spec)
    # found before anything was touched (the directory is checked with the rest of the input)
    assert exc.value.field == 'hosts.path' and 'does not exist; nothing was changed' in str(exc.value)
    assert snapshot() == before


def test_files_in_the_same_plan(run, tmp_path):
    hosts, resolv = tmp_path / 'hosts', tmp_path / 'resolv.conf'
    hosts.write_text('127.0.0.1 localhost\n')
    resolv.write_text('nameserver 192.0.2.1\n')
    spec = {'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}],
            'hosts': {'entries': [{'ip': '192.0.2.10', 'aliases': ['node1.example.com', 'node1']}], 'path': str(hosts)},
            'resolver': {'nameservers': ['192.0.2.53'], 'search_domains': ['example.com'], 'path': str(resolv)}}
    r = run(spec, diff_mode=True)
    assert r['operations'][-2:] == ['write hosts %s' % hosts, 'write resolver %s' % resolv]
    assert '192.0.2.10 node1.example.com node1' in hosts.read_text()
    assert 'nameserver 192.0.2.53' in resolv.read_text() and 'search example.com' in resolv.read_text()
    assert any(d.get('after_header') == str(hosts) for d in r['diff'])
    assert run(spec)['changed'] is False


# ---------------------------------------------------------------- confirm-or-revert (engine level)
def armed_change(run, netns, timeout, spec):
    armed = {}
    r = run(spec, on_applied=lambda journal, snaps: armed.update(agent.arm(journal, snaps, timeout, netns)))
    assert r['changed'] and armed['armed'] and armed['watchdog'] == 'detached process'
    return armed


def test_unconfirmed_change_is_reverted_by_the_detached_watchdog(run, netns, snapshot, run_dir, tmp_path):
    run({'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}],
         'addresses': [{'address': '192.0.2.10/24', 'link': 'eth0'}]})
    hosts = tmp_path / 'hosts'
    hosts.write_text('127.0.0.1 localhost\n')
    before = snapshot()
    spec = {'links': [{'name': 'eth0', 'up': True, 'mtu': 1400}, {'name': 'new0', 'kind': 'veth', 'peer': 'new1'}],
            'addresses': [{'address': '192.0.2.20/24', 'link': 'eth0'}],
            'hosts': {'entries': [{'ip': '192.0.2.20', 'aliases': ['node1']}], 'path': str(hosts)}}
    armed = armed_change(run, netns, 2, spec)
    pid = armed['watchdog_pid']
    # the watchdog is its own session leader's child, not ours: it survives this process's session
    assert os.getsid(pid) != os.getsid(0)
    assert snapshot() != before and 'node1' in hosts.read_text()
    # a second change is refused while this one waits
    with pytest.raises(agent.AgentError) as exc:
        agent.check_no_pending(netns)
    assert exc.value.field == 'confirm'
    assert wait_for((run_dir / ('reverted-%s.json' % agent.node_id(netns))).exists)
    rec = json.loads((run_dir / ('reverted-%s.json' % agent.node_id(netns))).read_text())
    assert rec['errors'] == []
    assert snapshot() == before
    assert hosts.read_text() == '127.0.0.1 localhost\n'
    with pytest.raises(agent.AgentError) as exc:
        agent.confirm(netns)
    assert 'too late' in str(exc.value)
    agent.check_no_pending(netns)   # nothing pending any more


def test_confirmed_change_stays(run, netns, snapshot, run_dir):
    spec = {'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}],
            'addresses': [{'address': '192.0.2.10/24', 'link': 'eth0'}]}
    armed = armed_change(run, netns, 2, spec)
    after = snapshot()
    assert agent.confirm(netns)['confirmed'] is True
    assert wait_for(lambda: not agent._alive(armed['watchdog_pid']))
    assert snapshot() == after
    assert (run_dir / ('confirmed-%s.json' % agent.node_id(netns))).exists()
    assert not list(run_dir.glob('reverted-*'))
    assert agent.confirm(netns)['confirmed'] is False


def test_pending_file_is_private(run, netns, run_dir):
    armed = armed_change(run, netns, 60, {'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0'}]})
    assert os.stat(armed['pending_file']).st_mode & 0o777 == 0o600
    agent.confirm(netns)


# ---------------------------------------------------------------- persistence
def differences(want, got):
    """The records that differ, per section, for an assertion message (pytest -q cuts its own diff)."""
    lines = []
    for section in sorted(set(want) | set(got)):
        w = [json.dumps(r, sort_keys=True) for r in want.get(section, [])]
        g = [json.dumps(r, sort_keys=True) for r in got.get(section, [])]
        lines += ['%s only before the reboot: %s' % (section, r) for r in w if r not in g]
        lines += ['%s only after it: %s' % (section, r) for r in g if r not in w]
        if not lines and w != g:
            lines.append('%s: the same records in another order:\n  %s\n  %s' % (section, w, g))
    return '\n'.join(lines)


def test_persisted_state_is_applied_again_by_the_boot_units_command(run, netns, tmp_path):
    paths = dict(state_file=str(tmp_path / 'etc' / 'state.json'), unit_file=str(tmp_path / 'system' / 'nodenet.service'),
                 engine_dir=str(tmp_path / 'lib' / 'seed-nodenet'))
    spec = copy(NODE)
    run(spec)
    want = gather(netns, ['links', 'addresses', 'routes', 'rules'])
    changes = agent.persist_plan(True, spec, netns, ['addresses'], paths['state_file'], paths['unit_file'], paths['engine_dir'])
    assert len(changes) == 4    # state, entry script, unit, wants link
    agent.persist_apply(True, changes, paths['unit_file'], paths['engine_dir'])
    assert agent.persist_plan(True, spec, netns, ['addresses'], paths['state_file'], paths['unit_file'], paths['engine_dir']) == []
    assert os.stat(paths['state_file']).st_mode & 0o777 == 0o600
    assert os.path.realpath(str(tmp_path / 'system' / 'multi-user.target.wants' / 'nodenet.service')) == paths['unit_file']
    # "reboot": flush the namespace
    sh('ip', '-n', netns, 'link', 'del', 'eth0')   # its peer, macvlan and VXLAN go with it
    assert gather(netns, ['links'])['links'] != want['links']
    unit = open(paths['unit_file']).read()
    cmd = [l.split('=', 1)[1] for l in unit.splitlines() if l.startswith('ExecStart=')][0]
    env = dict((k, val) for k, val in os.environ.items() if k != 'PYTHONPATH')   # only the installed copy
    p = subprocess.run(shlex.split(cmd), capture_output=True, text=True, env=env, cwd='/', check=False)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)['changed'] is True
    got = gather(netns, ['links', 'addresses', 'routes', 'rules'])

    def stable(s):
        for link in s['links']:
            for k in ('index', 'hardware_addr', 'operational_state', 'flags', 'peer'):
                link.pop(k, None)
        for a in s['addresses']:
            a.pop('link_index', None)
            a['flags'] = [f for f in a['flags'] if f != 'tentative']
        s['addresses'] = [a for a in s['addresses'] if not a['address'].startswith('fe80')]
        s['links'] = sorted(s['links'], key=lambda x: x['name'])
        s['addresses'] = sorted(s['addresses'], key=lambda x: x['address'])
        return s
    assert stable(got) == stable(want), differences(stable(want), stable(got))
    # and again: nothing to do
    p = subprocess.run(shlex.split(cmd), capture_output=True, text=True, env=env, cwd='/', check=False)
    assert p.returncode == 0 and json.loads(p.stdout)['changed'] is False
    # persist: false removes unit, link, state and engine copy
    changes = agent.persist_plan(False, {}, netns, [], paths['state_file'], paths['unit_file'], paths['engine_dir'])
    agent.persist_apply(False, changes, paths['unit_file'], paths['engine_dir'])
    left = [os.path.join(d, f) for d, dummy, fs in os.walk(str(tmp_path)) for f in fs]
    assert left == [], left


# ---------------------------------------------------------------- batched creations
def big_spec(n=24):
    """Enough addresses and routes that they go to the kernel as netlink batches (apply.BATCH_MIN)."""
    spec = {'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True, 'mtu': 9000}, {'name': 'sw0', 'up': True}],
            'addresses': [], 'routes': []}
    for i in range(n):
        spec['addresses'].append({'address': '10.0.%d.1/24' % i, 'link': 'eth0'})
        spec['addresses'].append({'address': '2001:db8:%x::1/64' % i, 'link': 'eth0'})
    spec['addresses'][0]['label'] = 'eth0:main'
    for i in range(n):
        spec['routes'].append({'destination': '172.16.%d.0/24' % i, 'gateway': '10.0.%d.254' % i, 'metric': i})
        spec['routes'].append({'destination': '2001:db8:ff%02x::/48' % i, 'gateway': '2001:db8:%x::fe' % i})
    spec['routes'] += [
        {'destination': '198.51.100.0/24', 'gateway': '10.0.1.254', 'table': 1000, 'mtu': 1400},
        {'destination': '203.0.113.0/24', 'link': 'eth0', 'source': '10.0.2.1', 'table': 100},
        {'destination': '192.0.2.0/24', 'type': 'blackhole'},
        {'destination': 'default', 'gateway': '10.0.0.254'},
    ]
    return spec


def test_batched_creations_match_what_was_declared(run, ip, netns, monkeypatch):
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import apply as applymod
    sent = []
    real = applymod.batch
    monkeypatch.setattr(applymod, 'batch', lambda nl, msgs: sent.append(len(msgs)) or real(nl, msgs))
    spec = big_spec()
    r = run(spec)
    assert len(r['operations']) == 2 + 48 + 52
    assert sent == [48, 52], 'addresses and routes were not sent as batches'
    got = global_addrs(ip)
    assert len(got) == 48 and ('eth0', '10.0.5.1/24') in got and ('eth0', '2001:db8:17::1/64') in got
    assert 'eth0:main' in [a.get('label') for l in ip('addr', 'show', 'dev', 'eth0') for a in l['addr_info']]
    main4 = dict((x['dst'], x) for x in ip('route', 'show'))
    assert main4['172.16.7.0/24']['gateway'] == '10.0.7.254' and main4['172.16.7.0/24']['metric'] == 7
    assert main4['172.16.7.0/24']['protocol'] == 'static'
    assert main4['default']['gateway'] == '10.0.0.254'
    assert [x for x in ip('route', 'show', 'type', 'blackhole') if x['dst'] == '192.0.2.0/24']
    t1000 = ip('route', 'show', 'table', '1000')
    assert t1000[0]['dst'] == '198.51.100.0/24' and t1000[0]['metrics'] == [{'mtu': 1400}]
    t100 = ip('route', 'show', 'table', '100')
    assert t100[0]['dst'] == '203.0.113.0/24' and t100[0]['prefsrc'] == '10.0.2.1' and t100[0]['scope'] == 'link'
    main6 = dict((x['dst'], x) for x in ip('-6', 'route', 'show'))
    assert main6['2001:db8:ff05::/48']['gateway'] == '2001:db8:5::fe'
    assert run(spec)['changed'] is False


def test_kernel_refusal_inside_a_batch_rolls_back_everything(run, netns, snapshot):
    run({'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}, {'name': 'sw0', 'up': True}],
         'addresses': [{'address': '10.0.0.1/24', 'link': 'eth0'}]})
    before = settled(snapshot, 2)
    spec = big_spec()
    spec['links'][0] = {'name': 'eth0', 'up': True, 'mtu': 9000}
    # in the middle of the route batch
    refused_route(spec, at=20)
    with pytest.raises(ApplyError) as exc:
        run(spec)
    assert 'create route 10.99.0.0/16' in str(exc.value) and 'ENETUNREACH' in str(exc.value) and exc.value.rolled_back
    assert snapshot() == before


@pytest.mark.parametrize('step', [1, 5, 30, 60, 80])
def test_failure_inside_a_batch_leaves_the_node_as_before(run, snapshot, step):
    run({'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}, {'name': 'sw0', 'up': True}]})
    before = settled(snapshot, 2)
    spec = big_spec()
    spec['links'][0] = {'name': 'eth0', 'up': True, 'mtu': 9000}
    with pytest.raises(ApplyError):
        run(spec, fail_after=step)
    assert snapshot() == before


def test_purge_goes_as_one_batch_and_a_later_failure_restores_what_the_kernel_flushed(run, ip, netns, snapshot, monkeypatch):
    """Purging many addresses: one netlink batch of removals, the routes the kernel flushed with them
    found from one re-read; a failure after it puts back the addresses and those routes."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import apply as applymod
    spec = big_spec()
    run(spec)
    before = settled(snapshot, 2)
    sent = []
    real = applymod.batch
    monkeypatch.setattr(applymod, 'batch', lambda nl, msgs: sent.append(len(msgs)) or real(nl, msgs))
    keep = {'links': spec['links'], 'addresses': spec['addresses'][:4],
            'routes': [{'destination': '10.99.0.0/16', 'gateway': '10.0.1.254'}]}
    n = len(spec['addresses']) - 4
    with pytest.raises(ApplyError) as exc:
        run(keep, purge=['addresses'], fail_after=n)
    assert exc.value.rolled_back and 'injected failure' in str(exc.value)
    assert sent and max(sent) >= n - 1, 'the removals were not sent as a batch: %s' % sent
    assert snapshot() == before
    r = run(keep, purge=['addresses'])
    assert len([o for o in r['operations'] if o.startswith('delete address')]) == n
    norm = ipaddress.ip_interface
    assert sorted(str(norm(a)) for dummy, a in global_addrs(ip)) == sorted(str(norm(a['address'])) for a in keep['addresses'])
    assert run(keep, purge=['addresses'])['changed'] is False


def many_links(n=12):
    """Enough veths, and macvlans on them, that each depth goes to the kernel as one batch."""
    links = [{'name': 'v%d' % i, 'kind': 'veth', 'peer': 'vp%d' % i, 'up': i % 3 != 0, 'mtu': 1400 + i,
              'txqueuelen': 100 + i, 'hardware_addr': '02:00:00:00:01:%02x' % i} for i in range(n)]
    links += [{'name': 'mv%d' % i, 'kind': 'macvlan', 'parent': 'v%d' % i, 'up': True,
               'macvlan_mode': ('bridge', 'vepa', 'private')[i % 3]} for i in range(n)]
    return links


def got_alias(ip, name):
    return ip('link', 'show', 'dev', name)[0].get('ifalias')


def test_links_are_created_and_removed_as_batches(run, ip, netns, monkeypatch):
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import apply as applymod
    sent = []
    real = applymod.batch
    monkeypatch.setattr(applymod, 'batch', lambda nl, msgs: sent.append(len(msgs)) or real(nl, msgs))
    links = many_links()
    links[11]['alias'] = 'the last veth'    # an alias is set after creating: that link is made on its own
    r = run({'links': links, 'addresses': [{'address': '10.1.%d.1/24' % i, 'link': 'mv%d' % i} for i in range(12)]})
    assert len(r['operations']) == 36
    assert sent == [11, 12, 12], 'veths, then the macvlans on them, then the addresses: %s' % sent
    assert got_alias(ip, 'v11') == 'the last veth'
    got = dict((l['ifname'], l) for l in ip('link', 'show'))
    for i in range(12):
        v = got['v%d' % i]
        assert v['mtu'] == 1400 + i and v['txqlen'] == 100 + i and v['address'] == '02:00:00:00:01:%02x' % i
        assert ('UP' in v['flags']) == (i % 3 != 0)
        assert v['linkinfo']['info_kind'] == 'veth' and got['vp%d' % i]['link'] == 'v%d' % i
        m = got['mv%d' % i]
        assert m['link'] == 'v%d' % i and 'UP' in m['flags']
        assert m['linkinfo']['info_data']['mode'] == ('bridge', 'vepa', 'private')[i % 3]
    assert run({'links': links})['changed'] is False
    del sent[:]
    r = run({'links': [{'name': l['name'], 'state': 'absent'} for l in links]})
    assert len(r['operations']) == 24 and sent == [12, 12], 'the removals were not sent as batches: %s' % sent
    assert [l['ifname'] for l in ip('link', 'show')] == ['lo']


def test_kernel_refusal_inside_a_link_batch_rolls_back_everything(run, netns, snapshot):
    """Two macvlans on one parent may not share a hardware address: the kernel refuses the eighth in
    the middle of the macvlan batch; the seven before it and every veth are removed again."""
    before = snapshot()
    links = many_links()
    links[12 + 6]['hardware_addr'] = links[12 + 7]['hardware_addr'] = '02:00:00:00:02:01'
    links[12 + 7]['parent'] = 'v6'
    with pytest.raises(ApplyError) as exc:
        run({'links': links})
    assert "create link 'mv7'" in str(exc.value) and 'EADDRINUSE' in str(exc.value) and exc.value.rolled_back
    assert snapshot() == before


# ---------------------------------------------------------------- bridges (this host has them; bonds and VLANs: tests/vm)
BRIDGED = {
    'links': [{'name': 'p0', 'kind': 'veth', 'peer': 'p0x', 'up': True, 'mtu': 9000},
              {'name': 'p1', 'kind': 'veth', 'peer': 'p1x', 'up': True, 'mtu': 9000}],
    'bridges': [{'name': 'br0', 'links': ['p0', 'p1'], 'stp': {'enabled': False}, 'mtu': 9000, 'up': True}],
    'addresses': [{'address': '192.0.2.10/24', 'link': 'br0'}],
    'routes': [{'destination': '10.0.0.0/8', 'gateway': '192.0.2.1'}],
}


def test_bridge_on_veth_ports_in_one_plan(run, ip, netns):
    r = run(BRIDGED)
    ops = r['operations']
    assert ops.index('create link p0') < ops.index('create bridge br0') < ops.index('create address br0 192.0.2.10/24')
    links = dict((l['ifname'], l) for l in ip('link', 'show'))
    assert links['p0']['master'] == 'br0' and links['p1']['master'] == 'br0' and links['br0']['mtu'] == 9000
    assert global_addrs(ip) == [('br0', '192.0.2.10/24')]
    assert run(BRIDGED)['changed'] is False
    # purge works on the bridge: it is a declared link
    sh('ip', '-n', netns, 'addr', 'add', '192.0.2.77/24', 'dev', 'br0')
    assert run(BRIDGED, purge=['addresses'])['operations'] == ['delete address br0 192.0.2.77/24 (purge)']


def test_bridge_plan_failing_part_way_is_rolled_back(run, snapshot):
    before = snapshot()
    bad = copy(BRIDGED)
    refused_route(bad)
    with pytest.raises(ApplyError) as exc:
        run(bad)
    assert exc.value.rolled_back
    assert snapshot() == before


# ---------------------------------------------------------------- wireguard section and secrets
@pytest.mark.skipif(shutil.which('wireguard-go') is None, reason='wireguard-go is needed: run scripts/setup')
def test_wireguard_section_userspace_in_one_plan(run, ip, netns, tmp_path):
    name = 'wgn%s' % uuid.uuid4().hex[:6]
    key = tmp_path / 'wg.key'
    spec = {'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}],
            'wireguard': [{'name': name, 'backend': 'userspace', 'private_key_file': str(key), 'generate_key': True,
                           'listen_port': 51850, 'mtu': 1400, 'up': True, 'peers': []}],
            'addresses': [{'address': '10.88.0.1/24', 'link': name}],
            'routes': [{'destination': '10.89.0.0/16', 'link': name}]}
    try:
        r = run(spec)
        assert r['operations'].index('create wireguard %s' % name) < r['operations'].index('create address %s 10.88.0.1/24' % name)
        assert key.exists() and os.stat(str(key)).st_mode & 0o777 == 0o600
        link = [l for l in ip('link', 'show') if l['ifname'] == name][0]
        assert link['mtu'] == 1400 and global_addrs(ip) == [(name, '10.88.0.1/24')]
        assert key.read_text().strip() not in json.dumps(r)
        assert run(spec)['changed'] is False
    finally:
        sh('ip', '-n', netns, 'link', 'del', name, check=False)   # stops its wireguard-go


@pytest.mark.skipif(shutil.which('wireguard-go') is None, reason='wireguard-go is needed: run scripts/setup')
def test_wireguard_from_key_files_under_confirm_or_revert(run, ip, netns, tmp_path, run_dir):
    """The mesh case: a WireGuard link whose key is generated into a file, then a peer added, each under
    confirm-or-revert. The journal on disk holds the key file's path and public keys, never the private
    key; the watchdog undoes the peer change, then the creation (link gone, generated key file removed).
    Removing the link can't be guarded (undoing it needs the key) and is refused before anything."""
    name = 'wgr%s' % uuid.uuid4().hex[:6]
    key = tmp_path / 'wg.key'
    peer = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg='
    link = {'name': name, 'backend': 'userspace', 'private_key_file': str(key), 'generate_key': True,
            'listen_port': 51851, 'up': True, 'peers': []}
    reverted = run_dir / ('reverted-%s.json' % agent.node_id(netns))

    def guarded(spec, timeout):
        armed = {}
        r = run(spec, guarded=True, on_applied=lambda journal, snaps: armed.update(agent.arm(journal, snaps, timeout, netns)))
        return r, armed

    def peers():
        return [p['public_key'] for p in gather(netns, ['wireguard'])['wireguard'][0]['peers']]
    try:
        r, armed = guarded({'wireguard': [link]}, 60)
        secret = key.read_text().strip()
        assert secret not in open(armed['pending_file']).read() and str(key) in open(armed['pending_file']).read()
        agent.confirm(netns)
        wait_for(lambda: not agent._alive(armed['watchdog_pid']))
        r, armed = guarded({'wireguard': [dict(link, peers=[{'public_key': peer, 'allowed_ips': ['10.98.0.2/32']}])]}, 1)
        assert peers() == [peer] and secret not in open(armed['pending_file']).read()
        assert wait_for(reverted.exists)
        assert json.loads(reverted.read_text())['errors'] == []
        assert peers() == [] and key.read_text().strip() == secret
        reverted.unlink()
        with pytest.raises(ValidationError) as exc:
            run({'wireguard': [{'name': name, 'state': 'absent'}]}, guarded=True)
        assert exc.value.field == 'rollback_timeout' and name in str(exc.value) and 'private key' in str(exc.value)
        assert [l for l in ip('link', 'show') if l['ifname'] == name], 'the refused removal touched the link'
        sh('ip', '-n', netns, 'link', 'del', name)
        key.unlink()
        r, armed = guarded({'wireguard': [link]}, 1)
        assert key.exists()
        assert wait_for(reverted.exists) and json.loads(reverted.read_text())['errors'] == []
        assert not [l for l in ip('link', 'show') if l['ifname'] == name] and not key.exists()
    finally:
        sh('ip', '-n', netns, 'link', 'del', name, check=False)   # stops its wireguard-go


class FakeModule:
    """Just enough of AnsibleModule for network.run_module."""

    def __init__(self, **params):
        self.params = dict((k, None) for k in network.module_spec())
        self.params.update(purge=[], confirm=False, persist_path='/nonexistent/state.json',
                           persist_unit='/nonexistent/nodenet.service', persist_engine_dir='/nonexistent/engine')
        self.params.update(params)
        self.check_mode, self._diff, self.warnings = False, False, []
        self.no_log_values = set()   # AnsibleModule's: values masked in every output (talos_config's keys)

    def warn(self, msg):
        self.warnings.append(msg)

    def fail_json(self, **kw):
        raise Failed(kw)

    def exit_json(self, **kw):
        raise Exited(kw)

    def run_command(self, argv):
        p = subprocess.run(argv, capture_output=True, text=True, check=False)
        return p.returncode, p.stdout, p.stderr


class Failed(Exception):
    pass


class Exited(Exception):
    pass


def test_secrets_are_not_journaled_nor_persisted(netns, snapshot):
    before = snapshot()
    wgspec = [{'name': 'wg0', 'backend': 'userspace', 'private_key': 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=',
               'peers': [{'public_key': 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=',
                          'preshared_key': 'FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE='}]}]
    with pytest.raises(Failed) as exc:
        network.run_module(FakeModule(netns=netns, wireguard=wgspec, rollback_timeout=30))
    assert exc.value.args[0]['field'] == 'rollback_timeout' and 'private key' in exc.value.args[0]['msg']
    with pytest.raises(Failed) as exc:
        network.run_module(FakeModule(netns=netns, wireguard=wgspec, persist=True))
    assert exc.value.args[0]['field'] == 'wireguard[0].private_key'
    assert 'yAnz5' not in exc.value.args[0]['msg']
    assert snapshot() == before
    assert not os.path.exists('/nonexistent')


def test_confirm_alone_and_check_mode(netns, run_dir):
    m = FakeModule(netns=netns, confirm=True, links=[{'name': 'x0', 'kind': 'veth', 'peer': 'x1'}])
    with pytest.raises(Failed) as exc:
        network.run_module(m)
    assert exc.value.args[0]['field'] == 'confirm' and 'links' in exc.value.args[0]['msg']
    with pytest.raises(Exited) as exc:
        network.run_module(FakeModule(netns=netns, confirm=True))
    assert exc.value.args[0] == {'changed': False, 'confirmed': False,
                                 'msg': 'nothing to confirm: no change is waiting for confirmation on this node'}


def nft_run(argv, data=None, binary_data=False):
    """A run_command stand-in for the firewall section (the module passes its own)."""
    p = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
    return p.returncode, p.stdout, p.stderr


FIREWALL = {'default_action': 'block',
            'rules': [{'name': 'kubelet', 'port_selector': {'protocol': 'tcp', 'ports': [10250]},
                       'ingress': [{'subnet': '10.0.0.0/8'}]}]}


def nft_table(netns):
    p = subprocess.run(['ip', 'netns', 'exec', netns, 'nft', '-j', 'list', 'table', 'inet', 'nodenet'],
                       capture_output=True, text=True, check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


def test_firewall_section_checked_with_the_rest_applied_last_and_idempotent(run, netns):
    spec = dict(NODE, firewall=FIREWALL)
    r = run(spec, check_mode=True, diff_mode=True, run=nft_run)
    assert r['operations'][-1] == 'create table inet nodenet' and nft_table(netns) is None
    assert any('kubelet' in (d.get('after') or '') for d in r['diff'])
    r = run(spec, run=nft_run)
    table = nft_table(netns)
    assert table is not None and r['firewall']['default_action'] == 'block'
    comments = [o['rule'].get('comment') for o in table['nftables'] if 'rule' in o]
    assert 'kubelet' in comments
    assert run(spec, run=nft_run)['changed'] is False


def test_firewall_section_bad_input_names_the_field_before_anything(run, netns, snapshot):
    empty = snapshot()
    bad = dict(NODE, firewall={'default_action': 'block', 'rules': [
        {'name': 'x', 'port_selector': {'protocol': 'tcp', 'ports': ['2000-1000']}, 'ingress': [{'subnet': '10.0.0.0/8'}]}]})
    with pytest.raises(ValidationError) as e:
        run(bad, run=nft_run)
    assert e.value.field.startswith('firewall.rules[0]')
    assert snapshot() == empty and nft_table(netns) is None


def test_failure_after_the_firewall_puts_its_table_back(run, netns, snapshot):
    run({'firewall': {'default_action': 'accept', 'rules': [
        {'name': 'ssh', 'port_selector': {'protocol': 'tcp', 'ports': [22]}, 'ingress': [{'subnet': '10.0.0.0/8'}]}]}}, run=nft_run)
    before_table = nft_table(netns)
    before = snapshot()

    def boom(journal, snaps):
        raise NodenetError('injected failure after the firewall (test hook)')

    with pytest.raises(ApplyError) as e:
        run(dict(NODE, firewall=FIREWALL), run=nft_run, on_applied=boom)
    assert 'rolled back' in str(e.value)
    assert snapshot() == before

    def rules(t):
        return [(o['rule'].get('comment'), json.dumps(o['rule']['expr'], sort_keys=True)) for o in t['nftables'] if 'rule' in o]
    assert rules(nft_table(netns)) == rules(before_table)


def fw_rules(table):
    """(comment, expressions) of each rule of a listed table, or None when the table is absent."""
    if table is None:
        return None
    return [(o['rule'].get('comment'), json.dumps(o['rule']['expr'], sort_keys=True)) for o in table['nftables'] if 'rule' in o]


def test_unconfirmed_firewall_and_files_are_reverted_by_the_watchdog(run, netns, snapshot, run_dir, tmp_path):
    """One journal for every kind: links, an address, the hosts file and the firewall table under one
    confirm-or-revert; the detached watchdog (no Ansible: it runs nft itself) puts all of it back."""
    run({'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}],
         'firewall': {'default_action': 'accept', 'rules': [
             {'name': 'ssh', 'port_selector': {'protocol': 'tcp', 'ports': [22]}, 'ingress': [{'subnet': '10.0.0.0/8'}]}]}})
    hosts = tmp_path / 'hosts'
    hosts.write_text('127.0.0.1 localhost\n')
    before, before_fw = snapshot(), fw_rules(nft_table(netns))
    spec = {'links': [{'name': 'eth0', 'up': True, 'mtu': 1400}],
            'addresses': [{'address': '192.0.2.20/24', 'link': 'eth0'}],
            'hosts': {'entries': [{'ip': '192.0.2.20', 'aliases': ['node1']}], 'path': str(hosts)},
            'firewall': FIREWALL}
    armed = {}
    r = run(spec, on_applied=lambda journal, snaps: armed.update(agent.arm(journal, snaps, 2, netns)))
    assert r['operations'][-2:] == ['write hosts %s' % hosts, 'replace table inet nodenet'], r['operations']
    assert armed['armed'] and fw_rules(nft_table(netns)) != before_fw and 'node1' in hosts.read_text()
    pending = json.loads(open(armed['pending_file']).read())
    assert [op['kind'] for op in pending['journal']][-2:] == ['hosts', 'firewall']
    assert wait_for((run_dir / ('reverted-%s.json' % agent.node_id(netns))).exists)
    rec = json.loads((run_dir / ('reverted-%s.json' % agent.node_id(netns))).read_text())
    assert rec['errors'] == []
    assert snapshot() == before
    assert fw_rules(nft_table(netns)) == before_fw
    assert hosts.read_text() == '127.0.0.1 localhost\n'


def test_firewall_only_change_is_reverted_to_no_table(run, netns, run_dir):
    """A table that did not exist before the change is removed again by the revert."""
    armed = {}
    run({'firewall': FIREWALL}, on_applied=lambda journal, snaps: armed.update(agent.arm(journal, snaps, 1, netns)))
    assert nft_table(netns) is not None
    assert wait_for((run_dir / ('reverted-%s.json' % agent.node_id(netns))).exists)
    assert nft_table(netns) is None


def test_persisted_firewall_is_applied_again_by_the_boot_units_command(run, netns, tmp_path):
    """The persisted state holds the firewall section as declared (state.json's `spec.firewall`); the
    boot unit's command puts the table back after it was lost, and is idempotent."""
    paths = dict(state_file=str(tmp_path / 'etc' / 'state.json'), unit_file=str(tmp_path / 'system' / 'nodenet.service'),
                 engine_dir=str(tmp_path / 'lib' / 'seed-nodenet'))
    spec = {'links': [{'name': 'eth0', 'kind': 'veth', 'peer': 'sw0', 'up': True}], 'firewall': copy(FIREWALL)}
    run(spec)
    want = fw_rules(nft_table(netns))
    agent.persist_apply(True, agent.persist_plan(True, spec, netns, [], paths['state_file'], paths['unit_file'],
                                                 paths['engine_dir']), paths['unit_file'], paths['engine_dir'])
    assert json.load(open(paths['state_file']))['spec']['firewall'] == FIREWALL
    sh('ip', 'netns', 'exec', netns, 'nft', 'delete', 'table', 'inet', 'nodenet')
    unit = open(paths['unit_file']).read()
    cmd = [l.split('=', 1)[1] for l in unit.splitlines() if l.startswith('ExecStart=')][0]
    env = dict((k, val) for k, val in os.environ.items() if k != 'PYTHONPATH')
    p = subprocess.run(shlex.split(cmd), capture_output=True, text=True, env=env, cwd='/', check=False)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)['operations'] == ['create table inet nodenet']
    assert fw_rules(nft_table(netns)) == want
    p = subprocess.run(shlex.split(cmd), capture_output=True, text=True, env=env, cwd='/', check=False)
    assert p.returncode == 0 and json.loads(p.stdout)['changed'] is False
