"""Confirm-or-revert for real: a lab node reached by Ansible over SSH.

Two network namespaces joined by a veth pair: the node (nnnet-node-*, a real sshd listening on
10.99.0.2) and the controller (nnnet-ctl-*, 10.99.0.1), where ansible-playbook runs (`ip netns
exec`), so nothing about the root namespace changes. The module runs on the node through sshd,
that is inside the node's namespace, and its watchdog is a detached process there.

* revert: the change moves the node's only address to 10.98.0.3, which the controller can't
  reach. Ansible loses the node, nobody confirms, the watchdog puts 10.99.0.2 back, and Ansible
  reaches the node again; confirming then fails and says it is too late.
* confirm: the change moves the node to 10.99.0.3; the play reaches it there and confirms, and the
  change is still in place after the deadline.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import textwrap
import time
import uuid

import pytest
from testlib import sh

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, '.venv', 'bin')
SSHD = shutil.which('sshd') or '/usr/sbin/sshd'
MACHINE_RUN_DIR = '/run/nodenet'

pytestmark = pytest.mark.skipif(not os.path.exists(SSHD) or not shutil.which('ssh'),
                                reason='needs openssh-server and openssh-client (scripts/setup installs them)')


def wait_for(pred, limit=60):
    """Poll until pred() is true; the bound only keeps a broken run from hanging."""
    t0 = time.time()
    while time.time() - t0 < limit:
        if pred():
            return True
        time.sleep(0.2)
    return False


def node_id(ns):
    st = os.stat('/run/netns/%s' % ns)
    return '%x-%x' % (st.st_dev, st.st_ino)


class Lab:
    def __init__(self, tmp):
        tag = uuid.uuid4().hex[:6]
        self.tmp, self.node, self.ctl = tmp, 'nnnet-node-%s' % tag, 'nnnet-ctl-%s' % tag
        # The node's run directory (lock, pending/confirmed/reverted records, the engine copy the watchdog
        # runs), given to the module by sshd's SetEnv: the test leaves nothing in the machine's /run/nodenet.
        self.run_dir = str(tmp / 'run')
        self.sshd = None

    def up(self):
        for ns in (self.node, self.ctl):
            sh('ip', 'netns', 'add', ns)
            sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
        sh('ip', '-n', self.ctl, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 'n0', 'netns', self.node)
        sh('ip', '-n', self.ctl, 'addr', 'add', '10.99.0.1/24', 'dev', 'c0')
        sh('ip', '-n', self.ctl, 'link', 'set', 'c0', 'up')
        sh('ip', '-n', self.node, 'addr', 'add', '10.99.0.2/24', 'dev', 'n0')
        sh('ip', '-n', self.node, 'link', 'set', 'n0', 'up')
        t = self.tmp
        sh('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(t / 'id'))
        sh('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(t / 'hostkey'))
        shutil.copy(str(t / 'id.pub'), str(t / 'authorized_keys'))
        (t / 'sshd_config').write_text(textwrap.dedent('''\
            ListenAddress 0.0.0.0
            Port 22
            HostKey {t}/hostkey
            AuthorizedKeysFile {t}/authorized_keys
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            PidFile {t}/sshd.pid
            LogLevel ERROR
            SetEnv NODENET_RUN_DIR={run}
            ''').format(t=t, run=self.run_dir))
        os.makedirs('/run/sshd', exist_ok=True)   # sshd's privilege separation directory
        self.sshd = subprocess.Popen(['ip', 'netns', 'exec', self.node, SSHD, '-D', '-e', '-f', str(t / 'sshd_config')],
                                     stdout=subprocess.DEVNULL, stderr=open(str(t / 'sshd.log'), 'w'))
        (t / 'ansible.cfg').write_text(textwrap.dedent('''\
            [defaults]
            host_key_checking = false
            retry_files_enabled = false
            local_tmp = {t}/ansible-local
            nocolor = true
            [ssh_connection]
            ssh_args = -o ControlMaster=no -o ConnectTimeout=3 -o ServerAliveInterval=2 -o ServerAliveCountMax=2
            pipelining = true
            ''').format(t=t))
        (t / 'inventory').write_text(
            'node ansible_host=10.99.0.2 ansible_user=root ansible_ssh_private_key_file={t}/id '
            'ansible_python_interpreter={py} ansible_remote_tmp={t}/ansible-remote '
            'ansible_ssh_common_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"\n'
            .format(t=t, py=os.path.join(VENV, 'python')))
        assert wait_for(lambda: self.reachable('10.99.0.2'), 30), (t / 'sshd.log').read_text()

    def ssh(self, address, *cmd):
        return sh('ip', 'netns', 'exec', self.ctl, 'ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=2',
                  '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
                  '-i', str(self.tmp / 'id'), 'root@%s' % address, *cmd, check=False)

    def reachable(self, address):
        return self.ssh(address, 'true').returncode == 0

    def addresses(self):
        out = json.loads(sh('ip', '-j', '-n', self.node, 'addr', 'show', 'dev', 'n0').stdout)
        return sorted('%s/%d' % (a['local'], a['prefixlen']) for l in out for a in l['addr_info'] if a['family'] == 'inet')

    def playbook(self, text, **extra):
        path = self.tmp / ('play-%s.yml' % uuid.uuid4().hex[:6])
        path.write_text(textwrap.dedent(text))
        env = dict(os.environ, ANSIBLE_CONFIG=str(self.tmp / 'ansible.cfg'),
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
                   PATH=VENV + os.pathsep + os.environ['PATH'])
        env.pop('ANSIBLE_PYTHON_INTERPRETER', None)
        args = ['ip', 'netns', 'exec', self.ctl, os.path.join(VENV, 'ansible-playbook'), '-i', str(self.tmp / 'inventory'), str(path)]
        for k, val in extra.items():
            args += ['-e', '%s=%s' % (k, val)]
        p = subprocess.run(args, capture_output=True, text=True, env=env, check=False, timeout=600)
        m = re.search(r'node\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', p.stdout)
        assert m, 'no recap:\n%s\n%s' % (p.stdout[-3000:], p.stderr[-3000:])
        return {'rc': p.returncode, 'ok': int(m.group(1)), 'changed': int(m.group(2)), 'unreachable': int(m.group(3)),
                'failed': int(m.group(4)), 'out': p.stdout}

    def record(self, kind):
        p = os.path.join(self.run_dir, '%s-%s.json' % (kind, node_id(self.node)))
        return json.load(open(p)) if os.path.exists(p) else None

    def down(self):
        if self.sshd is not None:
            self.sshd.terminate()
            self.sshd.wait()
        node = node_id(self.node) if os.path.exists('/run/netns/%s' % self.node) else None
        if node:
            for kind in ('pending', 'reverting'):
                rec = self.record(kind)
                if rec and rec.get('watchdog_pid'):
                    try:
                        os.kill(rec['watchdog_pid'], signal.SIGKILL)
                    except OSError:
                        pass
            leaked = [n for n in (os.listdir(MACHINE_RUN_DIR) if os.path.isdir(MACHINE_RUN_DIR) else []) if node in n]
            for name in leaked:
                os.unlink(os.path.join(MACHINE_RUN_DIR, name))
        for ns in (self.node, self.ctl):
            sh('ip', 'netns', 'del', ns, check=False)
        if node:
            assert not leaked, 'left in %s (the module ignored NODENET_RUN_DIR): %s' % (MACHINE_RUN_DIR, leaked)


@pytest.fixture
def lab(tmp_path):
    lab = Lab(tmp_path)
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


MOVE = '''\
- name: Move the node's address, with a rollback timeout
  hosts: node
  gather_facts: false
  tasks:
    - name: The change
      seed.nodenet.network:
        links: [{name: n0, up: true}]
        addresses: [{address: "{{ new }}/24", link: n0}]
        purge: [addresses]
        rollback_timeout: "{{ timeout }}"
      async: 120
      poll: 0
'''


def test_change_that_cuts_the_controller_off_is_reverted_and_ansible_reaches_the_node_again(lab):
    r = lab.playbook(MOVE, new='10.98.0.3', timeout=8)
    assert r['rc'] == 0 and r['failed'] == 0, r['out'][-3000:]
    # the change happened: the node has only the new address and the controller can't reach it
    assert wait_for(lambda: lab.addresses() == ['10.98.0.3/24'] or lab.record('reverted') is not None, 60)
    if lab.record('reverted') is None:
        assert not lab.reachable('10.99.0.2')
        assert lab.record('pending')['watchdog_pid']
    # nobody can confirm; the watchdog puts the old address back
    assert wait_for(lambda: lab.record('reverted') is not None, 90), lab.addresses()
    assert lab.record('reverted')['errors'] == []
    # the watchdog ran from the engine copy in the node's own run directory, not the machine's /run/nodenet
    assert os.path.isfile(os.path.join(lab.run_dir, 'engine', '.digest'))
    r = lab.playbook('''\
        - hosts: node
          gather_facts: false
          tasks:
            - name: Ansible reaches the node again at its old address
              ansible.builtin.wait_for_connection: {timeout: 60, sleep: 1}
            - seed.nodenet.network_info: {gather: [addresses]}
            - name: The node is as it was
              ansible.builtin.assert:
                that:
                  - "'10.99.0.2/24' in (ansible_facts.nodenet.addresses | map(attribute='address'))"
                  - "'10.98.0.3/24' not in (ansible_facts.nodenet.addresses | map(attribute='address'))"
            - name: Confirming now is too late
              seed.nodenet.confirm:
              register: late
              ignore_errors: true
            - ansible.builtin.assert:
                that: [late is failed, "'too late' in late.msg", "'reverted by the watchdog' in late.msg"]
        ''')
    assert r['rc'] == 0 and r['failed'] == 0 and r['unreachable'] == 0, r['out'][-3000:]
    assert lab.addresses() == ['10.99.0.2/24']


def test_confirmed_change_stays_after_the_deadline(lab):
    r = lab.playbook(MOVE + '''\
    - name: Reach the node at its new address
      ansible.builtin.set_fact: {ansible_host: "{{ new }}"}
    - ansible.builtin.wait_for_connection: {timeout: 60, sleep: 1}
    - name: Keep the change
      seed.nodenet.confirm:
      register: confirmed
    - ansible.builtin.assert:
        that: [confirmed.confirmed, confirmed is changed]
''', new='10.99.0.3', timeout=30)
    assert r['rc'] == 0 and r['failed'] == 0 and r['unreachable'] == 0, r['out'][-3000:]
    rec = lab.record('confirmed')
    assert rec is not None and lab.record('pending') is None
    # past the deadline, the change is still there and nothing was reverted
    assert wait_for(lambda: time.time() > rec['deadline'] + 2, rec['timeout'] + 30)
    assert lab.record('reverted') is None
    assert lab.addresses() == ['10.99.0.3/24']
    assert lab.reachable('10.99.0.3') and not lab.reachable('10.99.0.2')
