"""Integration tier: the lab role (playbooks/lab.yml) and the connection plugin seed.nodenet.netns.

One lab with a random name per module run: two nodes on one switch, an uplink (router, dnsmasq, NAT
towards the lab's own "internet" namespace), sshd in the nodes and a controller namespace. Tasks run
inside the nodes through the netns connection (ansible.builtin and seed.nodenet modules) and must
see the node's own host name, /etc files and links, never the machine's. Nothing here touches the
root namespace's network or files: the lab has no link into it, and the host's files are compared
before and after.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import textwrap
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, '.venv', 'bin')
HOST_FILES = ('/etc/resolv.conf', '/etc/hosts', '/etc/hostname')

pytestmark = pytest.mark.skipif(shutil.which('dnsmasq') is None or not os.path.exists('/usr/sbin/sshd'),
                                reason='the lab needs dnsmasq and sshd (Debian packages dnsmasq-base, openssh-server): '
                                       'run scripts/setup')


def env():
    return dict(os.environ, PATH=VENV + ':' + os.environ['PATH'], ANSIBLE_NOCOLOR='1',
                ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'), ANSIBLE_LOCALHOST_WARNING='false',
                ANSIBLE_INVENTORY_UNPARSED_WARNING='false')


def run(args, check=True, **kw):
    p = subprocess.run(args, capture_output=True, text=True, env=env(), check=False, **kw)
    if check:
        assert p.returncode == 0, '%s\nSTDOUT\n%s\nSTDERR\n%s' % (' '.join(args), p.stdout[-6000:], p.stderr[-3000:])
    return p


def recap(out):
    return dict((m.group(1), dict(changed=int(m.group(2)), failed=int(m.group(3))))
                for m in re.finditer(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)', out, re.M))


def host_snapshot():
    out = {'hostname': socket.gethostname()}
    for p in HOST_FILES:
        if os.path.exists(p):
            st = os.stat(p)
            with open(p, 'rb') as f:
                out[p] = (f.read(), st.st_mtime_ns, st.st_ino)
    return out


def lab_play(tmp, desc, *extra):
    vars_file = os.path.join(tmp, 'lab-vars.json')
    with open(vars_file, 'w') as f:
        json.dump({'nodenet_lab': desc}, f)
    return run(['ansible-playbook', os.path.join(ROOT, 'playbooks', 'lab.yml'), '-e', '@' + vars_file] + list(extra), check=False)


def namespaces(prefix):
    try:
        return sorted(n for n in os.listdir('/run/netns') if n.startswith(prefix + '-'))
    except OSError:
        return []


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp('lab'))
    name = 'lt%s' % uuid.uuid4().hex[:6]
    desc = {
        'name': name, 'domain': 'lab.test',
        'switches': [{'name': 'sw0', 'mtu': 1500}],
        'nodes': [
            {'name': 'cp1', 'groups': ['control_plane'],
             'links': [{'name': 'eth0', 'switch': 'sw0', 'addresses': ['10.77.0.11/24', 'fd00:77::11/64']}]},
            {'name': 'w1', 'groups': ['workers'], 'vars': {'node_role': 'worker'},
             'links': [{'name': 'eth0', 'switch': 'sw0', 'mtu': 1400, 'addresses': ['10.77.0.21/24']}]},
        ],
        'uplink': {'switch': 'sw0', 'addresses': ['10.77.0.1/24', 'fd00:77::1/64']},
        'controller': {'switch': 'sw0', 'addresses': ['10.77.0.254/24']},
        'ssh': True,
    }
    before = host_snapshot()
    p = lab_play(tmp, desc)
    try:
        assert p.returncode == 0, p.stdout[-4000:]
        assert recap(p.stdout)['localhost']['changed'] == 1
        yield {'name': name, 'desc': desc, 'tmp': tmp, 'dir': '/run/nodenet/lab/' + name,
               'inventory': '/run/nodenet/lab/%s/inventory.yml' % name, 'before': before}
    finally:
        lab_play(tmp, desc, '-e', 'nodenet_lab_state=absent')
        assert host_snapshot() == before, "the lab touched the host's own files or host name"


def test_second_run_changes_nothing_and_inventory_lists_the_groups(lab):
    p = lab_play(lab['tmp'], lab['desc'])
    assert p.returncode == 0, p.stdout[-3000:]
    assert recap(p.stdout)['localhost'] == {'changed': 0, 'failed': 0}
    p = run(['ansible-inventory', '-i', lab['inventory'], '--list'])
    inv = json.loads(p.stdout)
    assert inv['control_plane']['hosts'] == ['cp1'] and inv['workers']['hosts'] == ['w1']
    hv = inv['_meta']['hostvars']
    assert hv['w1']['ansible_connection'] == 'seed.nodenet.netns'
    assert hv['w1']['ansible_netns_name'] == lab['name'] + '-w1' and hv['w1']['node_role'] == 'worker'
    assert hv['w1']['ansible_host'] == '10.77.0.21', "the node's first address, as on real nodes"
    assert hv['cp1']['nodenet_lab_links'][0]['addresses'] == ['10.77.0.11/24', 'fd00:77::11/64']
    assert namespaces(lab['name']) == sorted('%s-%s' % (lab['name'], n) for n in
                                             ('cp1', 'w1', 'sw-sw0', 'uplink', 'internet', 'controller'))


def test_tasks_in_a_node_see_the_node(lab, tmp_path):
    """ansible.builtin and seed.nodenet modules, file transfer both ways, all inside the node's namespaces."""
    fetched = tmp_path / 'fetched'
    play = tmp_path / 'node.yml'
    play.write_text(textwrap.dedent('''\
        - hosts: all
          gather_facts: false
          tasks:
            - ansible.builtin.command: hostname
              register: kernel_name
              changed_when: false
            - ansible.builtin.copy: {content: "only in {{ inventory_hostname }}\\n", dest: /etc/nodenet-lab-test, mode: "0644"}
            - ansible.builtin.template: {src: /dev/null, dest: /run/nodenet-lab-test, mode: "0644"}
            - ansible.builtin.fetch: {src: /etc/hosts, dest: "%(fetched)s/{{ inventory_hostname }}", flat: true}
            - seed.nodenet.hosts:
                entries: [{ip: 10.77.0.11, aliases: [cp1.lab.test, cp1]}, {ip: 10.77.0.21, aliases: [w1.lab.test, w1]}]
            - seed.nodenet.hostname: {hostname: "{{ inventory_hostname }}.lab.test"}
            - seed.nodenet.resolver: {nameservers: [10.77.0.1], search_domains: [lab.test]}
            - seed.nodenet.network_info: {gather: [links, hostname, resolvers]}
            - ansible.builtin.copy:
                dest: "%(fetched)s/{{ inventory_hostname }}.json"
                mode: "0644"
                content: "{{ {'kernel_name': kernel_name.stdout, 'facts': ansible_facts.nodenet} | to_json }}"
              delegate_to: localhost
        ''' % {'fetched': fetched}))
    p = run(['ansible-playbook', '-i', lab['inventory'], str(play)])
    assert recap(p.stdout)['cp1']['failed'] == 0 and recap(p.stdout)['w1']['failed'] == 0
    for node, mtu in (('cp1', 1500), ('w1', 1400)):
        got = json.loads((fetched / (node + '.json')).read_text())
        assert got['kernel_name'] == node
        facts = got['facts']
        assert facts['hostname']['hostname'] == node and facts['hostname']['fqdn'] == node + '.lab.test'
        assert facts['resolvers']['nameservers'] == ['10.77.0.1']
        links = dict((lk['name'], lk) for lk in facts['links'])
        assert set(links) == {'lo', 'eth0'} and links['eth0']['mtu'] == mtu
        assert '%s.lab.test' % node in (fetched / node).read_text()
    # the files written in the nodes are in the nodes only
    assert not os.path.exists('/etc/nodenet-lab-test') and not os.path.exists('/run/nodenet-lab-test')
    out = run(['ansible', '-i', lab['inventory'], 'all', '-m', 'ansible.builtin.command',
               '-a', 'cat /etc/nodenet-lab-test /etc/hostname']).stdout
    assert 'only in cp1\ncp1.lab.test' in out and 'only in w1\nw1.lab.test' in out
    assert host_snapshot() == lab['before']
    # a second run changes nothing
    p = run(['ansible-playbook', '-i', lab['inventory'], str(play)])
    assert recap(p.stdout)['cp1']['changed'] == 1 and recap(p.stdout)['w1']['changed'] == 1, 'only the delegated copy'


def test_uplink_dns_and_nat(lab):
    """w1 resolves cp1 through the uplink's dnsmasq; its traffic to the lab's internet arrives masqueraded."""
    inet = lab['name'] + '-internet'
    server = subprocess.Popen(
        ['ip', 'netns', 'exec', inet, os.path.join(VENV, 'python'), '-c', textwrap.dedent('''\
            import socket, sys
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(('203.0.113.1', 8080)); s.listen(1); s.settimeout(60)
            print('ready', flush=True)
            c, peer = s.accept(); print(peer[0], flush=True)
            ''')], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == 'ready'
        code = ("import socket; print(socket.getaddrinfo('cp1.lab.test', 0, socket.AF_INET)[0][4][0]); "
                "socket.create_connection(('203.0.113.1', 8080), 10).close()")
        out = run(['nsenter', '--net=/run/netns/%s-w1' % lab['name'], '--mount=/run/nodenet/ns/%s-w1/mnt' % lab['name'],
                   '--uts=/run/nodenet/ns/%s-w1/uts' % lab['name'], os.path.join(VENV, 'python'), '-c', code]).stdout
        assert out.strip() == '10.77.0.11', 'cp1.lab.test resolved through dnsmasq'
        assert server.stdout.readline().strip() == '203.0.113.2', "the uplink's NAT address, not w1's 10.77.0.21"
    finally:
        server.kill()
        server.wait()


def test_ssh_from_the_controller_namespace(lab):
    p = run(['ip', 'netns', 'exec', lab['name'] + '-controller', 'ansible', '-i', lab['dir'] + '/inventory-ssh.yml',
             'all', '-m', 'ansible.builtin.shell', '-a', 'echo "$(hostname) $SSH_CONNECTION"'])
    lines = dict(line.split(' | ')[0:2] for line in p.stdout.splitlines() if ' | ' in line)
    assert set(lines) == {'cp1', 'w1'}
    assert re.search(r'^cp1 10\.77\.0\.254 \d+ 10\.77\.0\.11 22$', p.stdout, re.M), p.stdout
    assert re.search(r'^w1 10\.77\.0\.254 \d+ 10\.77\.0\.21 22$', p.stdout, re.M), p.stdout


def test_connection_refuses_a_namespace_that_is_not_a_node(tmp_path):
    ns = 'ltplain%s' % uuid.uuid4().hex[:6]
    subprocess.run(['ip', 'netns', 'add', ns], check=True)
    try:
        inv = tmp_path / 'inv.yml'
        inv.write_text('all:\n  hosts:\n    plain: {ansible_connection: seed.nodenet.netns, ansible_netns_name: %s}\n' % ns)
        p = run(['ansible', '-i', str(inv), 'plain', '-m', 'ansible.builtin.command', '-a', 'true'], check=False)
        assert p.returncode != 0
        assert "'%s' is not a lab node" % ns in p.stdout + p.stderr
    finally:
        subprocess.run(['ip', 'netns', 'del', ns], check=False)


def test_bad_description_names_the_field_and_makes_nothing(tmp_path):
    name = 'ltbad%s' % uuid.uuid4().hex[:6]
    desc = {'name': name, 'nodes': [{'name': 'n1', 'links': [{'name': 'eth0', 'switch': 'nope'}]}]}
    p = lab_play(str(tmp_path), desc)
    assert p.returncode != 0
    assert "lab.nodes[0].links[0].switch: switch 'nope' is not one of the lab's switches (sw0)" in p.stdout
    assert namespaces(name) == [] and not os.path.exists('/run/nodenet/lab/' + name)


def test_check_mode_makes_nothing(tmp_path):
    name = 'ltchk%s' % uuid.uuid4().hex[:6]
    p = lab_play(str(tmp_path), {'name': name, 'nodes': [{'name': 'n1'}]}, '--check')
    assert p.returncode == 0, p.stdout[-3000:]
    assert recap(p.stdout)['localhost']['changed'] == 1
    assert namespaces(name) == [] and not os.path.exists('/run/nodenet/lab/' + name)


def start_time(pid):
    """The process's start time (field 22 of /proc/<pid>/stat), or None when there is no such process or
    only its zombie is left for its parent to reap."""
    try:
        with open('/proc/%s/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (IOError, OSError, IndexError):
        return None
    return None if fields[0] == 'Z' else fields[19]


def engine_files_of(ns):
    """The engine's node lock and confirm-or-revert records in /run/nodenet for namespace `ns` (named after its nsfs
    device and inode), and its wireguard-go socket directory."""
    st = os.stat('/run/netns/' + ns)
    node = '%x-%x' % (st.st_dev, st.st_ino)
    found = [os.path.join('/run/nodenet', f) for f in os.listdir('/run/nodenet') if f.endswith('-' + node) or ('-%s.' % node) in f]
    return found + (['/run/nodenet/wireguard/' + ns] if os.path.isdir('/run/nodenet/wireguard/' + ns) else [])


MACHINE_ENGINE_COPY = '/run/nodenet/engine'


@pytest.fixture
def machine_engine_copy():
    """The engine copy a confirm-or-revert run from the machine's own namespaces writes to /run/nodenet/engine
    (agent.arm: the code its watchdog runs). It is a machine-wide cache shared by every node's watchdog, kept on
    tmpfs until reboot, so a lab's `absent` rightly leaves it; the test that makes it removes it afterwards
    (unless it was there before) and checks that it is gone."""
    had = os.path.lexists(MACHINE_ENGINE_COPY)
    yield MACHINE_ENGINE_COPY
    if not had:
        shutil.rmtree(MACHINE_ENGINE_COPY, ignore_errors=True)
        assert not os.path.lexists(MACHINE_ENGINE_COPY), 'the engine copy this test made is left in /run/nodenet'


def test_absent_removes_namespaces_processes_and_mounts(lab, machine_engine_copy):
    name = lab['name']
    # a confirmed change made from the machine's own namespaces with netns: (as scripts and tests do) leaves the
    # engine's confirm-or-revert record for that namespace in /run/nodenet; absent removes it with the node
    for args in ({'netns': name + '-w1', 'links': [{'name': 'lo', 'mtu': 65000}], 'rollback_timeout': 120},
                 {'netns': name + '-w1', 'confirm': True}):
        p = run(['ansible', 'localhost', '-c', 'local', '-m', 'seed.nodenet.network', '-a', json.dumps(args)], check=False)
        assert p.returncode == 0 and 'CHANGED' in p.stdout, p.stdout[-3000:]
    made = engine_files_of(name + '-w1')
    assert [f for f in made if os.path.basename(f).startswith('confirmed-')], made
    assert os.path.isfile(os.path.join(machine_engine_copy, '.digest')), 'the watchdog ran from the machine-wide engine copy'
    pids = subprocess.run(['ip', 'netns', 'pids', name + '-uplink'], capture_output=True, text=True, check=False).stdout.split()
    pids += subprocess.run(['ip', 'netns', 'pids', name + '-cp1'], capture_output=True, text=True, check=False).stdout.split()
    assert len(pids) >= 2, 'dnsmasq in the uplink and sshd in cp1'
    started = {pid: start_time(pid) for pid in pids}
    p = lab_play(lab['tmp'], lab['desc'], '-e', 'nodenet_lab_state=absent')
    assert p.returncode == 0 and recap(p.stdout)['localhost']['changed'] == 1
    assert namespaces(name) == []
    # the same processes (pid and start time: pids are reused quickly on a busy machine)
    assert [pid for pid in pids if start_time(pid) is not None and start_time(pid) == started[pid]] == []
    with open('/proc/self/mountinfo') as f:
        assert [line for line in f if '/run/nodenet/ns/%s-' % name in line] == []
    assert not os.path.exists(lab['dir'])
    assert not os.path.isdir('/run/nodenet/ns') or [n for n in os.listdir('/run/nodenet/ns') if n.startswith(name)] == []
    assert [f for f in made if os.path.lexists(f)] == [], 'the node lock and records of the lab stay in /run/nodenet'
    p = lab_play(lab['tmp'], lab['desc'], '-e', 'nodenet_lab_state=absent')
    assert recap(p.stdout)['localhost']['changed'] == 0


RELEASE = textwrap.dedent("""
    import os, subprocess, sys
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import lab
    d = sys.argv[1]
    lab.NS_DIR = d
    def mounted():
        with open('/proc/self/mountinfo') as f:
            return any(line.split()[4] == d for line in f)
    lab._ensure_private_dir()
    os.mkdir(os.path.join(d, 'other-lab-node'))          # a node of another lab keeps the mount
    with lab._ns_dir_lock():
        lab._release_private_dir()
    print('kept' if mounted() and os.path.isdir(d) else 'released')
    os.rmdir(os.path.join(d, 'other-lab-node'))          # the last lab out releases it
    with lab._ns_dir_lock():
        lab._release_private_dir()
    print('kept' if mounted() or os.path.isdir(d) else 'released')
""")


def test_last_lab_out_releases_the_namespace_directory_mount(tmp_path):
    """The bind mount of /run/nodenet/ns (made by the first lab node) is removed by the last lab's absent, and kept
    while another lab has a node in it. Run on a directory of this test inside a private mount namespace
    (unshare -m): the machine's own /run/nodenet/ns is shared with the labs of other checkouts."""
    d = str(tmp_path / 'ns')
    p = subprocess.run(['unshare', '-m', '--propagation', 'private', os.path.join(VENV, 'python'), '-c', RELEASE, d],
                       capture_output=True, text=True, env=dict(env(), PYTHONPATH=os.path.join(ROOT, '.build', 'collections')),
                       check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.split() == ['kept', 'released'], p.stdout + p.stderr
