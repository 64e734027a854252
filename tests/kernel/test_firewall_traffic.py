"""Kernel tier for the firewall: real nftables in namespaces, real packets.

Three namespaces per test: a node with a bridge, an allowed client and a denied client, each
on a veth into the bridge, IPv4 and IPv6. Python sockets are the servers and the clients
(created inside the namespaces; no helper processes). Every expected verdict is also checked
against firewall.evaluate(), the model the lock-out guard relies on.
"""
import contextlib
import json
import os
import selectors
import socket
import subprocess
import threading
import uuid
from unittest import mock

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import firewall as fw
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import runner
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import firewall as fwkind
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, KernelError, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import in_netns
from testlib import sh

TIMEOUT = 0.4   # a dropped packet is a timeout; the verdict never depends on how long things take
NODE4, OK4, BAD4 = '10.77.0.1', '10.77.0.10', '10.77.0.20'
NODE6, OK6, BAD6 = 'fd77::1', 'fd77::10', 'fd77::20'
TCP_PORTS = (22, 7100, 7101, 7102, 7103, 8080, 9090)
UDP_PORTS = (5353, 6000, 6001, 9091)


def run_cmd(argv, data=None):
    """The engine's command runner (the modules pass AnsibleModule.run_command)."""
    p = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
    return p.returncode, p.stdout, p.stderr


class Servers(object):
    """TCP and UDP servers (dual-stack) inside a namespace, served by one thread."""

    def __init__(self, netns, tcp=(), udp=()):
        self.sel = selectors.DefaultSelector()
        self.socks = []
        self.stop = threading.Event()

        def make():
            for port in tcp:
                s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(('::', port))
                s.listen(16)
                s.setblocking(False)
                self.sel.register(s, selectors.EVENT_READ, 'tcp')
                self.socks.append(s)
            for port in udp:
                s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                s.bind(('::', port))
                s.setblocking(False)
                self.sel.register(s, selectors.EVENT_READ, 'udp')
                self.socks.append(s)
        in_netns(netns, make)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop.is_set():
            for key in [k for k, ev in self.sel.select(0.1)]:
                s = key.fileobj
                try:
                    if key.data == 'tcp':
                        conn = s.accept()[0]
                        conn.sendall(b'ok')
                        conn.close()
                    else:
                        data, peer = s.recvfrom(512)
                        s.sendto(b'ok:' + data, peer)
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join(2)
        for s in self.socks:
            s.close()


def tcp_probe(netns, dst, port, timeout=TIMEOUT):
    """'open' (connected, got the greeting), 'refused' (reached, no listener) or 'dropped' (timeout)."""
    def run():
        fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((dst, port))
            return 'open' if s.recv(2) == b'ok' else 'garbled'
        except ConnectionRefusedError:
            return 'refused'
        except socket.timeout:
            return 'dropped'
        finally:
            s.close()
    return in_netns(netns, run)


def udp_probe(netns, dst, port):
    def run():
        fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(TIMEOUT)
        try:
            s.sendto(b'ping', (dst, port))
            data = s.recvfrom(512)[0]
            return 'open' if data == b'ok:ping' else 'garbled'
        except ConnectionRefusedError:
            return 'refused'
        except socket.timeout:
            return 'dropped'
        finally:
            s.close()
    return in_netns(netns, run)


@pytest.fixture
def lab():
    """node (bridge br0: 10.77.0.1/24, fd77::1/64), ok (.10, ::10), bad (.20, ::20)."""
    tag = uuid.uuid4().hex[:6]
    names = {'node': 'nnfw-%s-n' % tag, 'ok': 'nnfw-%s-a' % tag, 'bad': 'nnfw-%s-d' % tag}
    for ns in names.values():
        sh('ip', 'netns', 'add', ns)
    servers = []
    try:
        node = names['node']
        sh('ip', '-n', node, 'link', 'set', 'lo', 'up')
        sh('ip', '-n', node, 'link', 'add', 'br0', 'type', 'bridge')
        sh('ip', '-n', node, 'link', 'set', 'br0', 'up')
        sh('ip', '-n', node, 'addr', 'add', NODE4 + '/24', 'dev', 'br0')
        sh('ip', '-n', node, 'addr', 'add', NODE6 + '/64', 'dev', 'br0', 'nodad')
        for role, a4, a6 in (('ok', OK4, OK6), ('bad', BAD4, BAD6)):
            ns = names[role]
            sh('ip', '-n', node, 'link', 'add', 'to-' + role, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
            sh('ip', '-n', node, 'link', 'set', 'to-' + role, 'master', 'br0', 'up')
            sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
            sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
            sh('ip', '-n', ns, 'addr', 'add', a4 + '/24', 'dev', 'eth0')
            sh('ip', '-n', ns, 'addr', 'add', a6 + '/64', 'dev', 'eth0', 'nodad')
        servers.append(Servers(node, TCP_PORTS, UDP_PORTS))
        names['servers'] = servers
        yield names
    finally:
        for s in servers:
            s.close()
        for ns in names.values():
            if isinstance(ns, str):
                sh('ip', 'netns', 'del', ns, check=False)


def ruleset(netns):
    return sh('ip', 'netns', 'exec', netns, 'nft', '-s', 'list', 'ruleset').stdout   # -s: without counter values


def nft_json(netns, *what):
    p = sh('ip', 'netns', 'exec', netns, 'nft', '-j', 'list', *what, check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


@contextlib.contextmanager
def injected(fault):
    """Test-only faults, put in from outside the engine (no branch of its own in production code):
    'batch' appends a command the kernel rejects (a rule in a chain that does not exist) to every
    transaction the kind renders; 'verify' makes every read-back count as a mismatch."""
    if fault == 'batch':
        real = fw.render_batch

        def bad(table):
            batch = real(table)
            batch['nftables'].append({'add': {'rule': {'family': fw.FAMILY, 'table': fw.TABLE, 'chain': 'no-such-chain',
                                                       'expr': [{'accept': None}]}}})
            return batch
        with mock.patch.object(fw, 'render_batch', bad):
            yield
    elif fault == 'verify':
        with mock.patch.object(fwkind, 'satisfied', lambda op, state: (False, 'injected: the table read back differently')):
            yield
    else:
        yield


def converge(netns, params, environ=None, _inject_failure=None, **kw):
    """The firewall module's run (runner.single, as plugins/modules/firewall.py calls it) on plain data;
    environ: where the lock-out guard reads the SSH session ({}: none)."""
    with injected(_inject_failure):
        return runner.single('firewall', params, netns=netns, context={'environ': {} if environ is None else environ}, **kw)


def rule(name, proto, ports, *subnets):
    ingress = []
    for s in subnets:
        if isinstance(s, tuple):
            ingress.append({'subnet': s[0], 'except': s[1]})
        else:
            ingress.append({'subnet': s})
    ps = {'protocol': proto}
    if ports:
        ps['ports'] = ports
    return {'name': name, 'port_selector': ps, 'ingress': ingress}


BLOCK = {'default_action': 'block', 'rules': [
    rule('web', 'tcp', [8080], ('10.77.0.0/24', BAD4 + '/32'), ('fd77::/64', BAD6 + '/128')),
    rule('range', 'tcp', ['7100-7102'], OK4 + '/32', OK6 + '/128'),
    rule('dns', 'udp', [5353], '10.77.0.0/24', 'fd77::/64'),
    rule('udp-range', 'udp', ['6000-6001'], OK4, OK6),
]}

# (proto, port, allowed from ok, allowed from bad) in block mode
BLOCK_MATRIX = [
    ('tcp', 8080, True, False),     # allowed subnet, bad is the except hole
    ('tcp', 7100, True, False),     # range, low end
    ('tcp', 7101, True, False),     # range, inside
    ('tcp', 7102, True, False),     # range, high end
    ('tcp', 7103, False, False),    # one past the range
    ('tcp', 9090, False, False),    # no rule: default block
    ('udp', 5353, True, True),      # whole subnet
    ('udp', 6001, True, False),     # udp range
    ('udp', 9091, False, False),    # no rule
]


def check_matrix(lab, params, matrix):
    table = fw.compile_model(fw.normalize(params))
    failures = []
    for proto, port, ok_allowed, bad_allowed in matrix:
        for role, allowed in (('ok', ok_allowed), ('bad', bad_allowed)):
            for dst, src in ((NODE4, OK4 if role == 'ok' else BAD4), (NODE6, OK6 if role == 'ok' else BAD6)):
                probe = tcp_probe if proto == 'tcp' else udp_probe
                got = probe(lab[role], dst, port)
                want = 'open' if allowed else 'dropped'
                model = fw.evaluate(table, src, proto, port, iifname='br0')[0]
                if got != want or model != ('accept' if allowed else 'drop'):
                    failures.append('%s %s/%d from %s: kernel %s, model %s, expected %s' % (proto, dst, port, src, got, model, want))
    assert not failures, '\n'.join(failures)


def test_everything_open_before_any_policy(lab):
    """Control: without the table every port of the matrix answers, so a 'dropped' later is the firewall's doing."""
    check_matrix(lab, {'default_action': 'accept'}, [(m[0], m[1], True, True) for m in BLOCK_MATRIX])


def test_block_mode_connection_matrix_ipv4_ipv6(lab):
    r = converge(lab['node'], BLOCK)
    assert r['changed'] and r['operations'] == ['create table inet nodenet']
    check_matrix(lab, BLOCK, BLOCK_MATRIX)
    # what a user would check: the table, its policy and rule comments
    listing = nft_json(lab['node'], 'table', 'inet', 'nodenet')
    chain = [o['chain'] for o in listing['nftables'] if 'chain' in o][0]
    assert (chain['hook'], chain['prio'], chain['policy']) == ('input', -140, 'drop')
    comments = [o['rule'].get('comment') for o in listing['nftables'] if 'rule' in o]
    names = ['web', 'web', 'range', 'range', 'dns', 'dns', 'udp-range', 'udp-range']
    assert [c for c in comments if not c.startswith('nodenet:')] == names
    # counters: network_info shows the traffic each rule accepted
    st = gather(lab['node'], ['firewall'], run=run_cmd)['firewall']
    by = dict((x['name'], x) for x in st['rules'])
    assert by['web']['packets'] > 0 and by['range']['packets'] > 0
    assert by['web']['ingress'] == [{'subnet': '10.77.0.0/24', 'except': [BAD4 + '/32']},
                                    {'subnet': 'fd77::/64', 'except': [BAD6 + '/128']}]


def test_block_mode_accepts_return_traffic_of_the_nodes_own_connections(lab):
    """ct established/related: the node reaches out to ports nobody may open towards it."""
    srv = Servers(lab['ok'], tcp=(9300,), udp=(9301,))
    try:
        converge(lab['node'], BLOCK)
        for dst in (OK4, OK6):
            assert tcp_probe(lab['node'], dst, 9300) == 'open', dst
            assert udp_probe(lab['node'], dst, 9301) == 'open', dst
        # and the same client opening a connection to a node port without a rule is dropped
        assert tcp_probe(lab['ok'], NODE4, 9090) == 'dropped'
        assert tcp_probe(lab['ok'], NODE6, 9090) == 'dropped'
    finally:
        srv.close()


def test_accept_mode_connection_matrix(lab):
    params = {'default_action': 'accept', 'rules': [
        rule('web', 'tcp', [8080], ('10.77.0.0/24', BAD4 + '/32')),          # IPv4 only: IPv6 to 8080 dropped (Talos)
        rule('dns', 'udp', [5353], OK4, OK6),
        rule('range', 'tcp', ['7100-7101'], '0.0.0.0/0', '::/0'),            # open to all: no rule at all
    ]}
    converge(lab['node'], params)
    table = fw.compile_model(fw.normalize(params))
    check_matrix(lab, params, [
        ('tcp', 9090, True, True),       # default accept
        ('udp', 9091, True, True),
        ('udp', 5353, True, False),
        ('tcp', 7101, True, True),
    ])
    assert tcp_probe(lab['ok'], NODE4, 8080) == 'open'
    assert tcp_probe(lab['bad'], NODE4, 8080) == 'dropped'
    assert tcp_probe(lab['ok'], NODE6, 8080) == 'dropped'
    assert fw.evaluate(table, OK6, 'tcp', 8080) == ('drop', 'web')


def test_accept_mode_icmpv6_rule_keeps_neighbour_discovery(lab):
    """An icmpv6 rule for other sources must not drop the NS/NA that IPv6 itself needs."""
    params = {'default_action': 'accept', 'rules': [rule('ping6', 'icmpv6', None, '2001:db8::/32')]}
    converge(lab['node'], params)      # before any IPv6 traffic: no neighbour is cached yet
    assert tcp_probe(lab['ok'], NODE6, 9090) == 'open'
    listing = nft_json(lab['node'], 'table', 'inet', 'nodenet')
    nd = [o['rule'] for o in listing['nftables'] if 'rule' in o and o['rule'].get('comment') == 'nodenet:nd'][0]
    assert [e['counter']['packets'] for e in nd['expr'] if 'counter' in e][0] > 0, 'neighbour discovery did not pass the nd rule'


def test_replacing_the_table_never_leaves_a_gap(lab):
    """While the table is replaced again and again, an allowed port never closes and a blocked one never opens."""
    node = lab['node']
    other = json.loads(json.dumps(BLOCK))
    other['rules'].append(rule('extra', 'tcp', [1234], '192.0.2.0/24'))
    converge(node, BLOCK)
    seen = {'allowed': [], 'blocked': []}
    stop = threading.Event()

    def probe():
        while not stop.is_set():
            seen['allowed'].append(tcp_probe(lab['ok'], NODE4, 8080))
            seen['blocked'].append(tcp_probe(lab['ok'], NODE4, 9090, timeout=0.05))
    t = threading.Thread(target=probe)
    t.start()
    try:
        for i in range(30):
            assert converge(node, other if i % 2 == 0 else BLOCK)['changed']
    finally:
        stop.set()
        t.join(5)
    assert seen['allowed'] and set(seen['allowed']) == {'open'}, seen['allowed']
    assert seen['blocked'] and set(seen['blocked']) == {'dropped'}, seen['blocked']


def test_check_mode_idempotence_and_diff(lab):
    node = lab['node']
    r = converge(node, BLOCK, check_mode=True, diff_mode=True)
    assert r['changed'] and r['operations'] == ['create table inet nodenet']
    assert 'tcp dport 8080 accept comment "web"' in r['diff'][0]['after'] and r['diff'][0]['before'] == ''
    assert nft_json(node, 'table', 'inet', 'nodenet') is None, 'check mode created the table'
    assert converge(node, BLOCK)['changed']
    assert not converge(node, BLOCK, check_mode=True)['changed']
    r = converge(node, BLOCK, diff_mode=True)
    assert not r['changed'] and r['diff'] == [] and r['operations'] == []
    # reordering nothing but equivalent input (ports as strings, duplicate ranges) is still no change
    same = json.loads(json.dumps(BLOCK))
    same['rules'][1]['port_selector']['ports'] = ['7100-7101', '7102', 7101]
    assert not converge(node, same)['changed']
    # a real change is a replace, and the diff shows the changed line
    changed = json.loads(json.dumps(BLOCK))
    changed['rules'][0]['port_selector']['ports'] = [8081]
    r = converge(node, changed, check_mode=True, diff_mode=True)
    assert r['operations'] == ['replace table inet nodenet']
    assert 'dport 8080 ' in r['diff'][0]['before'] and 'dport 8081 ' in r['diff'][0]['after']
    assert tcp_probe(lab['ok'], NODE4, 8080) == 'open', 'check mode changed the ruleset'
    r = converge(node, {'state': 'absent'})
    assert r['changed'] and r['operations'] == ['delete table inet nodenet']
    assert nft_json(node, 'table', 'inet', 'nodenet') is None
    assert not converge(node, {'state': 'absent'})['changed']


def test_other_tables_survive_every_apply(lab):
    node = lab['node']
    sh('ip', 'netns', 'exec', node, 'nft', 'add table ip keepme; '
       'add chain ip keepme input { type filter hook input priority 0; policy accept; }; '
       'add rule ip keepme input tcp dport 9999 drop comment "hand-made"; '
       'add table inet nodenet2')
    before = [nft_json(node, 'table', 'ip', 'keepme'), nft_json(node, 'table', 'inet', 'nodenet2')]
    steps = [BLOCK, {'default_action': 'accept', 'rules': BLOCK['rules'][:1]}, {'state': 'absent'}, BLOCK]
    for params in steps:
        r = converge(node, params)
        assert r['changed']
        assert [nft_json(node, 'table', 'ip', 'keepme'), nft_json(node, 'table', 'inet', 'nodenet2')] == before
        assert sorted(r['firewall']['other_tables']) == ['inet nodenet2', 'ip keepme']


def test_the_result_is_what_the_run_read_and_wrote(lab):
    """The module's `firewall` result is what a fresh network_info shows (counters aside), taken from what
    planning read and apply wrote: the run lists the tables once while planning and once more only to
    verify a change, never again to report (the other tables included, and the table's removal)."""
    node = lab['node']
    sh('ip', 'netns', 'exec', node, 'nft', 'add table ip keepme')
    calls = []

    def run(argv, data=None, binary_data=False):
        calls.append(' '.join(argv[1:]))
        return run_cmd(argv, data)

    def plain(st):
        return dict(st, rules=[dict((k, val) for k, val in r.items() if k not in ('packets', 'bytes')) for r in st['rules']])
    other = {'default_action': 'accept', 'rules': BLOCK['rules'][:1]}
    steps = [(BLOCK, True, True), (BLOCK, False, True), (BLOCK, False, False), (other, False, True),
             ({'state': 'absent'}, True, True), ({'state': 'absent'}, False, True), ({'state': 'absent'}, False, False)]
    for params, check_mode, changed in steps:
        del calls[:]
        r = converge(node, params, run=run, check_mode=check_mode)
        assert r['changed'] is changed
        assert plain(r['firewall']) == plain(gather(node, ['firewall'], run=run_cmd)['firewall'])
        assert r['firewall']['other_tables'] == ['ip keepme']
        assert calls.count('-j list tables') == (2 if changed and not check_mode else 1), calls


def test_a_failing_batch_leaves_the_previous_ruleset(lab):
    """The kernel rejects the last command of the batch: nothing of it is applied (one transaction)."""
    node = lab['node']
    converge(node, BLOCK)
    previous = ruleset(node)
    other = {'default_action': 'accept', 'rules': [rule('x', 'tcp', [1], '192.0.2.0/24')]}
    with pytest.raises(KernelError) as exc:
        converge(node, other, _inject_failure='batch')
    assert 'nothing was changed' in str(exc.value) and 'No such file or directory' in str(exc.value)
    assert ruleset(node) == previous
    assert tcp_probe(lab['ok'], NODE4, 8080) == 'open' and tcp_probe(lab['bad'], NODE4, 8080) == 'dropped'
    with pytest.raises(KernelError) as exc:
        converge(node, other, check_mode=True, _inject_failure='batch')
    assert 'nft -c' in str(exc.value)
    assert ruleset(node) == previous


def test_a_failed_verification_restores_the_previous_table(lab):
    node = lab['node']
    with pytest.raises(ApplyError) as exc:
        converge(node, BLOCK, _inject_failure='verify')
    assert exc.value.rolled_back and 'rolled back' in str(exc.value)
    assert nft_json(node, 'table', 'inet', 'nodenet') is None     # there was none before
    converge(node, BLOCK)
    previous = ruleset(node)
    with pytest.raises(ApplyError):
        converge(node, {'default_action': 'accept'}, _inject_failure='verify')
    assert ruleset(node) == previous


def test_bad_input_touches_nothing(lab):
    node = lab['node']
    bad = {'default_action': 'block', 'rules': [rule('web', 'tcp', ['8080-80'], '10.77.0.0/24')]}
    with pytest.raises(ValidationError) as exc:
        converge(node, bad)
    assert exc.value.field == 'rules[0].port_selector.ports[0]'
    assert nft_json(node, 'table', 'inet', 'nodenet') is None


def test_lockout_guard_with_an_ssh_like_environment(lab):
    """Run as the module would on the node itself (this thread inside the node's namespace, no netns option)."""
    node = lab['node']
    only_ok = {'default_action': 'block', 'rules': [rule('ssh', 'tcp', [22], OK4 + '/32', OK6 + '/128')]}
    from_bad = {'SSH_CONNECTION': '%s 50022 %s 22' % (BAD4, NODE4)}
    from_ok = {'SSH_CONNECTION': '%s 50022 %s 22' % (OK6, NODE6)}

    def here(params, environ, **kw):
        return in_netns(node, lambda: runner.single('firewall', params, netns=None, context={'environ': environ}, **kw))

    with pytest.raises(fw.LockoutError) as exc:
        here(only_ok, from_bad)
    msg = str(exc.value)
    assert BAD4 in msg and 'port 22' in msg and 'allow_lockout' in msg and exc.value.field == 'rules'
    assert nft_json(node, 'table', 'inet', 'nodenet') is None, 'refused policy was applied'
    with pytest.raises(fw.LockoutError):     # check mode refuses too
        here(only_ok, from_bad, check_mode=True)
    with pytest.raises(fw.LockoutError) as exc:   # accept mode: a rule dropping port 22 from outside its subnets
        here({'rules': [rule('ssh', 'tcp', [22], OK4 + '/32')]}, from_bad)
    assert "rule 'ssh' drops tcp port 22" in str(exc.value)
    # the guard's prediction is what the kernel does: applied anyway, the denied client can't open port 22
    assert tcp_probe(lab['bad'], NODE4, 22) == 'open'
    r = here(dict(only_ok, allow_lockout=True), from_bad)
    assert r['changed']
    assert tcp_probe(lab['bad'], NODE4, 22) == 'dropped'
    assert tcp_probe(lab['ok'], NODE6, 22) == 'open'
    # from the allowed client the same policy is fine
    assert not here(only_ok, from_ok)['changed']
    # removing the table can never lock anyone out
    assert here({'state': 'absent'}, from_bad)['changed']
    # with netns naming another namespace, the SSH session (which lands in this one) is not at stake
    assert converge(node, only_ok, environ=from_bad)['changed']


LISTINGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'unit', 'cases',
                        'firewall_listings.json')


def test_unit_fixture_listings_are_what_this_nft_prints(lab):
    """tests/unit/cases/firewall_listings.json is real nft output: re-apply each policy and compare.

    NODENET_REGEN_LISTINGS=1 rewrites the file from this machine's nft instead.
    """
    with open(LISTINGS) as fh:
        cases = json.load(fh)
    for name, case in sorted(cases.items()):
        converge(lab['node'], case['params'])
        listing = nft_json(lab['node'], 'table', 'inet', 'nodenet')
        if os.environ.get('NODENET_REGEN_LISTINGS') == '1':
            case['listing'] = listing
        assert fw.parse_table(listing)[0] == fw.parse_table(case['listing'])[0], name
    if os.environ.get('NODENET_REGEN_LISTINGS') == '1':
        with open(LISTINGS, 'w') as fh:
            json.dump(cases, fh, indent=1, sort_keys=True)
            fh.write('\n')
