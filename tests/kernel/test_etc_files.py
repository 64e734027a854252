"""Kernel tier for the generated /etc files: resolver, hosts, hostname.

Never the host's own files: every file is a temp file given by `path`; read-only cases run
inside `unshare --mount --propagation private` (a read-only bind mount seen only there); the
host name only ever changes inside `unshare --uts`.
"""
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common, hosts, resolver
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(ROOT, '.venv', 'bin')
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
HOST_FILES = ('/etc/resolv.conf', '/etc/hosts', '/etc/hostname')


@pytest.fixture(autouse=True)
def host_untouched():
    """Every test ends with the host's own files and host name as they were."""
    def snap():
        out = {'hostname': socket.gethostname(), 'domainname': open('/proc/sys/kernel/domainname').read()}
        for p in HOST_FILES:
            if os.path.exists(p):
                st = os.stat(p)
                out[p] = (open(p, 'rb').read(), st.st_mtime_ns, st.st_ino)
        return out
    before = snap()
    yield
    assert snap() == before, "a test touched the host's own files or host name"


def in_namespaces(code, *unshare_args):
    """Run python `code` under unshare (private mount namespace by default); returns its JSON output."""
    args = list(unshare_args) or ['--mount', '--propagation', 'private']
    p = subprocess.run(['unshare'] + args + [sys.executable, '-c', textwrap.dedent(code)],
                       capture_output=True, text=True, check=False,
                       env=dict(os.environ, PYTHONPATH=COLLECTIONS))
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def leftovers(directory):
    return [n for n in os.listdir(directory) if '.nodenet-' in n]


def write(path, text, mode=0o644):
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)


# ------------------------------------------------------------------ resolver
def test_resolver_plain_file_check_run_idempotent_diff(tmp_path):
    path = str(tmp_path / 'resolv.conf')
    original = 'nameserver 10.0.0.1\nsearch old.example\n'
    write(path, original, 0o640)
    os.chown(path, 0, 12)
    params = {'nameservers': ['192.0.2.53', '2001:db8::53'], 'search_domains': ['example.com'],
              'options': {'ndots': 2, 'timeout': 2, 'rotate': True}}
    r = resolver.converge(params, path=path, check_mode=True, diff_mode=True)
    assert r['changed'] and r['manager'] == 'file' and r['writers'] == []
    assert open(path).read() == original, 'check mode wrote the file'
    assert r['diff']['before'] == original and r['diff']['before_header'] == path
    expected = resolver.HEADER + ('nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch example.com\n'
                                  'options ndots:2 timeout:2 rotate\n')
    assert r['diff']['after'] == expected
    ino = os.stat(path).st_ino
    r = resolver.converge(params, path=path)
    assert r['changed'] and open(path).read() == expected
    st = os.stat(path)
    assert st.st_ino != ino, 'not replaced by a rename'
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o640, 0, 12), 'mode/owner not kept'
    assert r['resolver'] == {'nameservers': ['192.0.2.53', '2001:db8::53'], 'search_domains': ['example.com'],
                             'options': {'ndots': 2, 'timeout': 2, 'rotate': True}, 'manager': 'file', 'path': path}
    r = resolver.converge(params, path=path, check_mode=True)
    assert not r['changed']
    r = resolver.converge(params, path=path)
    assert not r['changed'] and os.stat(path).st_mtime_ns == st.st_mtime_ns
    assert leftovers(str(tmp_path)) == []
    # network_info reads the same record from a given path
    assert gather(resources=['resolvers'], resolv_conf=path)['resolvers'] == r['resolver']


def test_resolver_missing_file_is_created_and_more_than_three_warns(tmp_path):
    path = str(tmp_path / 'resolv.conf')
    r = resolver.converge({'nameservers': ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']}, path=path)
    assert r['changed'] and os.stat(path).st_mode & 0o777 == 0o644
    assert any('only the first 3' in w for w in r['warnings'])


def test_resolver_through_symlink_to_other_file_replaces_target(tmp_path):
    target = tmp_path / 'real.conf'
    write(str(target), 'nameserver 10.0.0.1\n')
    link = tmp_path / 'resolv.conf'
    link.symlink_to(target)
    r = resolver.converge({'nameservers': ['192.0.2.1']}, path=str(link))
    assert r['changed'] and r['manager'] == 'file'
    assert link.is_symlink() and 'nameserver 192.0.2.1' in target.read_text()


def test_resolver_systemd_resolved_stub_writes_dropin(tmp_path):
    rdir = tmp_path / 'run-systemd-resolve'
    rdir.mkdir()
    stub = 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n'
    write(str(rdir / 'stub-resolv.conf'), stub)
    write(str(rdir / 'resolv.conf'), 'nameserver 10.0.0.1\n')
    etc = tmp_path / 'etc'
    etc.mkdir()
    (etc / 'resolv.conf').symlink_to(rdir / 'stub-resolv.conf')
    dropin = str(tmp_path / 'etc' / 'systemd' / 'resolved.conf.d' / '50-nodenet.conf')
    params = {'nameservers': ['192.0.2.53'], 'search_domains': ['example.com'], 'options': {'ndots': 3}}
    kw = dict(path=str(etc / 'resolv.conf'), dropin=dropin, resolved_dir=str(rdir))
    r = resolver.converge(params, check_mode=True, diff_mode=True, **kw)
    assert r['changed'] and r['manager'] == 'systemd-resolved' and r['path'] == dropin
    assert not os.path.exists(dropin)
    assert r['diff']['after'] == resolver.HEADER + '[Resolve]\nDNS=192.0.2.53\nDomains=example.com\n'
    r = resolver.converge(params, **kw)
    assert r['changed'] and r['reloaded'] is None  # not the real resolved: never reloaded
    assert any('options are not applied' in w for w in r['warnings'])
    assert open(dropin).read() == resolver.HEADER + '[Resolve]\nDNS=192.0.2.53\nDomains=example.com\n'
    assert (rdir / 'stub-resolv.conf').read_text() == stub and (etc / 'resolv.conf').is_symlink()
    assert r['resolver']['manager'] == 'systemd-resolved' and r['resolver']['nameservers'] == ['10.0.0.1']
    assert not resolver.converge(params, **kw)['changed']


def test_resolver_concurrent_writer_detected_nothing_written(tmp_path):
    path = str(tmp_path / 'resolv.conf')
    write(path, 'nameserver 10.0.0.1\n')
    _mgr, fplan = resolver.plan(resolver.normalize({'nameservers': ['192.0.2.1']}), path=path)
    # another program rewrites the file between our read and our write
    write(path, 'nameserver 10.0.0.2\n# by dhclient\n')
    with pytest.raises(common.FileError) as e:
        common.write(fplan)
    assert e.value.field == 'path' and 'changed by another writer' in str(e.value)
    assert open(path).read() == 'nameserver 10.0.0.2\n# by dhclient\n'
    assert leftovers(str(tmp_path)) == []
    # same content but touched (mtime) also counts
    _mgr, fplan = resolver.plan(resolver.normalize({'nameservers': ['192.0.2.1']}), path=path)
    os.utime(path, ns=(1, 1))
    with pytest.raises(common.FileError):
        common.write(fplan)


@pytest.mark.parametrize('params,field', [
    ({'nameservers': ['192.0.2.1', '300.0.0.1']}, 'nameservers[1]'),
    ({'search_domains': ['ok.example', 'bad_domain']}, 'search_domains[1]'),
    ({'nameservers': ['192.0.2.1'], 'options': {'attempts': 9}}, 'options.attempts'),
])
def test_resolver_invalid_input_names_field_nothing_changed(tmp_path, params, field):
    path = str(tmp_path / 'resolv.conf')
    write(path, 'nameserver 10.0.0.1\n')
    mtime = os.stat(path).st_mtime_ns
    with pytest.raises(ValidationError) as e:
        resolver.converge(params, path=path)
    assert e.value.field == field
    assert open(path).read() == 'nameserver 10.0.0.1\n' and os.stat(path).st_mtime_ns == mtime


def test_resolver_detects_other_writers(tmp_path):
    root = tmp_path
    for rel, text in (('etc/NetworkManager/NetworkManager.conf', '[main]\nplugins=ifupdown\n'),
                      ('sbin/dhclient-script', '#!/bin/sh\n'),
                      ('lib/dhcpcd/dhcpcd-hooks/20-resolv.conf', '# hook\n'),
                      ('sbin/resolvconf', '#!/bin/sh\n')):
        os.makedirs(str(root / os.path.dirname(rel)), exist_ok=True)
        write(str(root / rel), text)
    path = str(tmp_path / 'resolv.conf')
    r = resolver.converge({'nameservers': ['192.0.2.1']}, path=path, writers_root=str(root), check_mode=True)
    assert [w['name'] for w in r['writers']] == ['NetworkManager', 'dhclient', 'dhcpcd', 'resolvconf']
    assert any('other programs may rewrite' in w for w in r['warnings'])
    # NetworkManager told to keep off resolv.conf is not a writer
    write(str(root / 'etc/NetworkManager/NetworkManager.conf'), '[main]\ndns=none\n')
    assert 'NetworkManager' not in [w['name'] for w in resolver.detect_writers(str(root))]


# ------------------------------------------------------------------ read-only files (private mount namespace)
RO_CODE = '''
import json, os, subprocess
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common, resolver, hosts
d, target, mode = %r, %r, %r
subprocess.run(['mount', '--bind', target, target], check=True)
if mode == 'ro':
    subprocess.run(['mount', '-o', 'remount,ro,bind', target], check=True)
out = {}
try:
    if d.endswith('hosts'):
        r = hosts.converge({'entries': [{'ip': '192.0.2.1', 'aliases': ['a']}]}, path=d)
    else:
        r = resolver.converge({'nameservers': ['192.0.2.1']}, path=d)
    out = {'ok': True, 'warnings': r['warnings']}
except common.FileError as e:
    out = {'ok': False, 'msg': str(e), 'field': e.field}
out['content'] = open(d).read()
out['left'] = [n for n in os.listdir(os.path.dirname(d)) if '.nodenet-' in n]
print(json.dumps(out))
'''


@pytest.mark.parametrize('name', ['resolv.conf', 'hosts'])
@pytest.mark.parametrize('bind', ['dir', 'file'])
def test_read_only_fails_clearly_nothing_half_written(tmp_path, name, bind):
    path = str(tmp_path / name)
    write(path, '# original\n')
    target = str(tmp_path) if bind == 'dir' else path
    out = in_namespaces(RO_CODE % (path, target, 'ro'))
    assert not out['ok'] and out['field'] == 'path'
    assert 'read-only file system' in out['msg'] and 'nothing was changed' in out['msg']
    assert out['content'] == '# original\n' and out['left'] == []
    # outside the private namespace the file is writable and unchanged
    assert open(path).read() == '# original\n' and leftovers(str(tmp_path)) == []


def test_bind_mounted_writable_file_is_rewritten_in_place(tmp_path):
    """A bind-mounted file (as containers have for /etc/resolv.conf) can't be renamed over."""
    path = str(tmp_path / 'resolv.conf')
    write(path, '# original\n')
    out = in_namespaces(RO_CODE % (path, path, 'rw'))
    assert out['ok'] and any('rewritten in place' in w for w in out['warnings'])
    assert 'nameserver 192.0.2.1' in out['content'] and out['left'] == []


# ------------------------------------------------------------------ hosts
def test_hosts_block_check_run_idempotent_rest_untouched(tmp_path):
    path = str(tmp_path / 'hosts')
    original = '127.0.0.1 localhost\n10.9.9.9 other # keep me\n'
    write(path, original)
    params = {'entries': [{'ip': '192.0.2.10', 'aliases': ['node1.example.com', 'node1']},
                          {'ip': '2001:db8::10', 'aliases': ['node1.example.com']}]}
    r = hosts.converge(params, path=path, check_mode=True, diff_mode=True, hostname='me')
    assert r['changed'] and open(path).read() == original
    r = hosts.converge(params, path=path, hostname='me')
    text = open(path).read()
    assert r['changed'] and text.startswith(original)
    assert text.endswith('# BEGIN seed.nodenet managed\n192.0.2.10 node1.example.com node1\n'
                         '2001:db8::10 node1.example.com\n# END seed.nodenet managed\n')
    assert not hosts.converge(params, path=path, hostname='me')['changed']
    r = hosts.converge({'entries': []}, path=path, diff_mode=True, hostname='me')
    assert r['changed'] and open(path).read() == original   # byte for byte, the blank line before the block included


def test_hosts_module_result_comes_from_the_planning_pass(tmp_path):
    """The hosts module's run (runner.single) runs the file engine in check mode once while planning;
    only a change runs it again (the write, and verify's read-back). Its result in check mode and on an
    idempotent run is that planning pass's."""
    from unittest import mock
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import runner
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import hosts as hosts_kind
    path = str(tmp_path / 'hosts')
    write(path, '127.0.0.1 localhost\n')
    params = {'entries': [{'ip': '192.0.2.10', 'aliases': ['node1']}], 'path': path}
    kind = hosts_kind.report.__self__
    calls = []

    def engine(p, files, check_mode=False, **kw):
        calls.append(check_mode)
        return real(p, files, check_mode=check_mode, **kw)
    real = kind.engine
    with mock.patch.object(kind, 'engine', engine):
        for check_mode, changed, engine_calls in ((True, True, [True]), (False, True, [True, False, True]),
                                                  (False, False, [True]), (True, False, [True])):
            del calls[:]
            r = runner.single('hosts', params, check_mode=check_mode, diff_mode=True)
            assert (r['changed'], calls) == (changed, engine_calls)
            assert (r['path'], r['entries']) == (path, [{'ip': '192.0.2.10', 'aliases': ['node1']}])
            if not changed:
                assert r['diff']['before'] == r['diff']['after'] == open(path).read()
    assert open(path).read().endswith('192.0.2.10 node1\n# END seed.nodenet managed\n')


def test_hosts_exclusive_keeps_localhost_and_own_name(tmp_path):
    path = str(tmp_path / 'hosts')
    write(path, '127.0.0.1 localhost\n::1 ip6-localhost\n127.0.1.1 me.example.com me\n10.1.1.1 stale\n')
    params = {'entries': [{'ip': '192.0.2.10', 'aliases': ['node1']}], 'exclusive': True}
    r = hosts.converge(params, path=path, hostname='me.example.com')
    assert r['changed'] and open(path).read() == (
        '127.0.0.1 localhost\n::1 ip6-localhost\n127.0.1.1 me.example.com me\n'
        '# BEGIN seed.nodenet managed\n192.0.2.10 node1\n# END seed.nodenet managed\n')
    assert not hosts.converge(params, path=path, hostname='me.example.com')['changed']


def test_hosts_invalid_alias_names_field_nothing_changed(tmp_path):
    path = str(tmp_path / 'hosts')
    write(path, '127.0.0.1 localhost\n')
    with pytest.raises(ValidationError) as e:
        hosts.converge({'entries': [{'ip': '192.0.2.1', 'aliases': ['good', 'not good']}]}, path=path)
    assert e.value.field == 'entries[0].aliases[1]' and open(path).read() == '127.0.0.1 localhost\n'


# ------------------------------------------------------------------ hostname (private UTS namespace)
HOSTNAME_CODE = '''
import json, socket, subprocess
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import hostname
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import gather
path, steps = %r, %r
out = []
for name, check in steps:
    try:
        r = hostname.converge({'hostname': name}, path=path, check_mode=check, diff_mode=True)
        r['error'] = None
    except NodenetError as e:
        r = {'error': str(e), 'field': e.field}
    r['uname'] = subprocess.run(['hostname'], capture_output=True, text=True).stdout.strip()
    r['domainname'] = open('/proc/sys/kernel/domainname').read().strip()
    r['file'] = open(path).read()
    r['info'] = gather(resources=['hostname'])['hostname']
    out.append(r)
print(json.dumps(out))
'''


def test_hostname_in_private_uts_namespace(tmp_path):
    path = str(tmp_path / 'hostname')
    write(path, 'old-name\n')
    steps = [('node1.example.com', True), ('node1.example.com', False), ('node1.example.com', False),
             ('Bad_Name', False), ('node2', False)]
    check, run, again, bad, short = in_namespaces(HOSTNAME_CODE % (path, steps), '--uts', '--mount',
                                                  '--propagation', 'private')
    assert check['changed'] and check['file'] == 'old-name\n' and check['uname'] == socket.gethostname()
    assert check['diff'][0]['after'] == 'node1.example.com\n'
    assert check['diff'][1]['after'] == 'hostname: node1\ndomainname: example.com\n'
    assert run['changed'] and run['method'] == 'file' and set(run['kernel_changes']) >= {'hostname', 'domainname'}
    assert run['uname'] == 'node1' and run['domainname'] == 'example.com' and run['file'] == 'node1.example.com\n'
    assert run['info'] == {'hostname': 'node1', 'domainname': 'example.com', 'fqdn': 'node1.example.com'}
    assert not again['changed'] and again['kernel_changes'] == []
    assert bad['error'] and bad['field'] == 'hostname' and bad['uname'] == 'node1'
    assert bad['file'] == 'node1.example.com\n'
    assert short['changed'] and short['uname'] == 'node2' and short['domainname'] == ''
    assert short['info'] == {'hostname': 'node2', 'domainname': None, 'fqdn': 'node2'}
    assert open(path).read() == 'node2\n' and leftovers(str(tmp_path)) == []


# ------------------------------------------------------------------ a module through ansible-playbook
PLAY = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Hosts with a backup
      seed.nodenet.hosts:
        path: {path}
        backup: true
        entries: [{{ip: 192.0.2.10, aliases: [node1]}}]
      register: ok
    - name: Bad address
      seed.nodenet.hosts:
        path: {path}
        entries: [{{ip: 192.0.2.300, aliases: [node1]}}]
      register: bad
      ignore_errors: true
    - name: Results for the test
      ansible.builtin.copy:
        dest: {out}
        content: "{{{{ [ok, bad] | to_json }}}}"
        mode: "0600"
'''


def test_hosts_module_via_ansible_playbook_backup_diff_and_error(tmp_path):
    path = str(tmp_path / 'hosts')
    write(path, '127.0.0.1 localhost\n')
    play = tmp_path / 'play.yml'
    out = tmp_path / 'results.json'
    play.write_text(PLAY.format(path=path, out=out))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
               ANSIBLE_NOCOLOR='1', PATH=VENV + os.pathsep + os.environ['PATH'])
    p = subprocess.run([os.path.join(VENV, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', '--diff', str(play)],
                       capture_output=True, text=True, env=env, check=False)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert '+192.0.2.10 node1' in p.stdout, 'no unified diff shown'
    ok, bad = json.loads(out.read_text())
    assert ok['changed'] and ok['backup_file'].startswith(path + '.')
    assert open(ok['backup_file']).read() == '127.0.0.1 localhost\n'
    assert ok['diff']['after'].endswith('192.0.2.10 node1\n# END seed.nodenet managed\n')
    assert bad['failed'] and bad['field'] == 'entries[0].ip'
    assert '# BEGIN seed.nodenet managed\n192.0.2.10 node1\n' in open(path).read()
