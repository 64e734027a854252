"""Integration tier: resolver, hosts and hostname in one play, run as a user would with ansible-playbook.

Every file is a temp file (`path` options) and the whole sequence runs inside
`unshare --uts --mount --propagation private`, so the host name set by the play stays private
and the host's own /etc/resolv.conf, /etc/hosts, /etc/hostname and host name are never touched.
"""
import os
import re
import shlex
import socket
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, '.venv', 'bin')
RECAP = re.compile(r'localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)')


def run_private(tmp, runs):
    """Run ansible-playbook once per `runs` entry (extra args), all in one private UTS + mount namespace."""
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
               ANSIBLE_NOCOLOR='1', PATH=VENV + os.pathsep + os.environ['PATH'])
    base = [os.path.join(VENV, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
            os.path.join(HERE, 'playbooks', 'etc_files.yml'), '-e', 'nodenet_dir=%s' % tmp]
    script = ''.join('%s; echo "=== rc=$?"; hostname; ' % ' '.join(shlex.quote(a) for a in base + list(extra))
                     for extra in runs)
    p = subprocess.run(['unshare', '--uts', '--mount', '--propagation', 'private', 'sh', '-c', script],
                       capture_output=True, text=True, env=env, check=False)
    chunks = p.stdout.split('=== rc=')[1:]
    assert len(chunks) == len(runs), p.stdout[-3000:] + p.stderr[-3000:]
    results = []
    out = p.stdout.split('=== rc=')[0]
    for chunk in chunks:
        rc, rest = chunk.split('\n', 1)
        m = RECAP.search(out)
        assert m, 'no recap in output:\n%s\n%s' % (out[-3000:], p.stderr[-3000:])
        results.append({'rc': int(rc), 'changed': int(m.group(2)), 'failed': int(m.group(4)), 'out': out,
                        'hostname': rest.split('\n', 1)[0]})
        out = rest.split('\n', 1)[1] if '\n' in rest else ''
    return results


def test_etc_files_check_run_idempotent(tmp_path):
    host_before = socket.gethostname()
    files = {'resolv.conf': 'nameserver 10.0.0.1\n', 'hosts': '127.0.0.1 localhost\n', 'hostname': 'old\n'}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    check, run, again, check_again = run_private(str(tmp_path), [['--check', '--diff'], [], [], ['--check']])
    assert check['rc'] == 0 and check['failed'] == 0 and check['changed'] == 3, check['out'][-3000:]
    assert '+nameserver 192.0.2.53' in check['out'], 'no diff shown'
    assert check['hostname'] == host_before
    assert run['rc'] == 0 and run['changed'] == 3, run['out'][-3000:]
    assert run['hostname'] == 'node1'
    assert again['rc'] == 0 and again['changed'] == 0, again['out'][-3000:]
    assert check_again['rc'] == 0 and check_again['changed'] == 0, check_again['out'][-3000:]
    assert (tmp_path / 'hostname').read_text() == 'node1.cluster.example.com\n'
    assert '192.0.2.10 node1.cluster.example.com node1' in (tmp_path / 'hosts').read_text()
    backups = [n for n in os.listdir(str(tmp_path)) if n.startswith('resolv.conf.')]
    assert len(backups) == 1 and (tmp_path / backups[0]).read_text() == files['resolv.conf']
    assert socket.gethostname() == host_before
