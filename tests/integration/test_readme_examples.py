"""Every YAML example in the README, run as written (twice: the second run must change nothing).

Each example runs in its own scratch network namespace that has the NICs the examples name
(eth0, eth1, eth2: veth ends), with `module_defaults: group/seed.nodenet.nodenet: {netns: ...}`
added to the play, and the whole ansible-playbook inside private mount and UTS namespaces whose
/etc/resolv.conf, /etc/hosts and /etc/hostname are scratch copies, so examples that declare the
/etc files never touch the host's. A bare task list becomes the tasks of a play on localhost;
a play's `hosts:` group is made an inventory group holding localhost. The whole ansible-playbook
runs under `ip netns exec <scratch>` as well, so nothing can reach the host's own network even
where netns does not arrive (a role passing `netns: omit` overrides module_defaults).

A block whose first line is `# files/<name>` is a file an example reads, not an example: it is written
to files/<name> beside the play of the next example (a node state file for `seed.nodenet.network`'s `src`).

Examples that can't run here say why (printed as the skip reason), each covered elsewhere.
"""
import os
import re
import subprocess
import tempfile
import uuid

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, '.venv', 'bin')
RECAP = re.compile(r'localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)')

# Why an example can't run in a namespace on this machine, recognised by what it contains.
CANNOT = [
    ('seed.nodenet.bond', 'bonding and 802.1Q are not in this kernel: the VM tier runs this example '
                          '(tests/integration/playbooks/bond_vlan_bridge.yml)'),
    ('private_key_file: /etc/nodenet',
     "writes a key under the host's /etc/nodenet and needs several nodes: "
     'tests/integration/test_wireguard.py runs the same flow in namespaces'),
    ('rollback_timeout', 'a fragment of a play (async, a new ansible_host): tests/integration/test_confirm_revert.py '
                         'runs confirm-or-revert end to end'),
    ('nodenet_cluster:', 'inventory variables, not a play: tests/integration/test_addons_render.py and the molecule '
                         'scenarios (extensions/molecule) run the roles with such descriptions'),
    ('roles: [seed.nodenet.cni', 'installs into a Kubernetes cluster and no API server can run here: '
                                 'tests/integration/test_addons_render.py runs both roles with render_only'),
    ('channels: {combined: 8}', "writes the host's /etc/sysctl.d and needs a NIC with combined queues and rings (a veth "
                                'has neither): tests/kernel/test_sysctl_ecmp.py (persist to a scratch file) and '
                                'tests/kernel/test_nic.py cover both'),
    ('kind: KubeSpanConfig', 'kept out of the CI time budget: tests/kernel/test_talos.py applies Talos documents '
                             '(KubeSpan reported by name) and the next README example runs talos_config through the module'),
    ('selector: {bus_path: "0000:06:00.*"', 'needs an igb NIC on PCI bus 0000:06:00 and one with a permanent MAC '
                                            '4e:95:8e:*, which lab namespaces (veths) have not: '
                                            'tests/kernel/test_selector.py chooses veths by driver and hardware address'),
    ('deviceSelectors:', 'bonds a NIC in PCI slot 0000:06:00.0 and igb ports: bonding is not in this kernel and lab '
                         'namespaces have veths only; tests/kernel/test_talos.py matches Talos deviceSelectors on veths '
                         'and the unit cases (tests/unit/cases/talos.yml) translate bond deviceSelectors'),
    ('role: seed.nodenet.prereqs', "installs packages and pyroute2 on the node, which here is this machine itself: "
                                   'the system tier (tests/system) runs the role on a fresh Debian VM'),
]


def examples():
    with open(os.path.join(ROOT, 'README.md')) as f:
        text = f.read()
    found = []
    files = {}
    for m in re.finditer(r'```yaml\n(.*?)```', text, re.S):
        line = text.count('\n', 0, m.start()) + 1
        name = re.match(r'# (files/[\w.-]+)\n', m.group(1))
        if name:
            files[name.group(1)] = m.group(1)
            continue
        found.append(pytest.param(m.group(1), files, id='README.md:%d' % line))
        files = {}
    return found


def as_play(doc, ns):
    """The example as one play for localhost with netns defaulted; and the groups it names."""
    if isinstance(doc, list) and doc and all(isinstance(t, dict) and 'hosts' in t for t in doc):
        plays = doc
    else:
        plays = [{'hosts': 'localhost', 'tasks': doc}]
    groups = set()
    for play in plays:
        if play['hosts'] != 'localhost':
            groups.add(play['hosts'])
        play.setdefault('gather_facts', False)
        play.setdefault('module_defaults', {})['group/seed.nodenet.nodenet'] = {'netns': ns}
    return plays, groups


def run(play_path, inventory, tmp, ns):
    """ansible-playbook in private mount and UTS namespaces; the scratch /etc files and the host and
    domain names carry over from one run to the next, as they would on a node."""
    etc = {'resolv.conf': 'nameserver 127.0.0.53\n', 'hosts': '127.0.0.1 localhost\n', 'hostname': 'readme\n',
           'uts-host': 'readme\n', 'uts-domain': '(none)\n'}
    mounts = []
    for name, content in etc.items():
        path = os.path.join(tmp, name)
        if not os.path.exists(path):
            with open(path, 'w') as f:
                f.write(content)
        if not name.startswith('uts-'):
            mounts.append('mount --bind %s /etc/%s' % (path, name))
    uts = os.path.join(tmp, 'uts-')
    script = ' && '.join(mounts + ['hostname "$(cat %shost)"' % uts, 'domainname "$(cat %sdomain)"' % uts]) + (
        '; %s -i %s -c local %s; rc=$?; hostname > %shost; domainname > %sdomain; exit $rc' % (
            os.path.join(VENV, 'ansible-playbook'), inventory, play_path, uts, uts))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'), ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_NOCOLOR='1', PATH=VENV + os.pathsep + os.environ['PATH'])
    # The whole run inside the scratch namespace too: a task that ends up without netns (a role that
    # passes netns: omit, which beats module_defaults) still can't reach the host's network.
    p = subprocess.run(['ip', 'netns', 'exec', ns, 'unshare', '--mount', '--uts', '--propagation', 'private', 'sh', '-c', script],
                       capture_output=True, text=True, env=env, check=False)
    m = RECAP.search(p.stdout)
    assert p.returncode == 0 and m, p.stdout[-4000:] + p.stderr[-2000:]
    return int(m.group(2))


def test_readme_has_examples():
    assert len(examples()) >= 5


@pytest.mark.parametrize('example, files', examples())
def test_readme_example_runs_as_written(example, files):
    for marker, reason in CANNOT:
        if marker in example:
            pytest.skip(reason)
    doc = yaml.safe_load(example)
    ns = 'nnrd-%s' % uuid.uuid4().hex[:8]
    tmp = tempfile.mkdtemp(prefix='nnrd-')
    subprocess.run(['ip', 'netns', 'add', ns], check=True)
    try:
        for nic in ('eth0', 'eth1', 'eth2'):
            subprocess.run(['ip', '-n', ns, 'link', 'add', nic, 'type', 'veth', 'peer', 'name', nic + 'p'], check=True)
            for end in (nic, nic + 'p'):   # NICs of a running node are up
                subprocess.run(['ip', '-n', ns, 'link', 'set', end, 'up'], check=True)
        for name, content in files.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, name)), exist_ok=True)
            with open(os.path.join(tmp, name), 'w') as f:
                f.write(content)
        plays, groups = as_play(doc, ns)
        play_path = os.path.join(tmp, 'play.yml')
        with open(play_path, 'w') as f:
            yaml.safe_dump(plays, f, sort_keys=False)
        inventory = os.path.join(tmp, 'inventory')
        with open(inventory, 'w') as f:
            f.write('localhost\n' + ''.join('[%s]\nlocalhost\n' % g for g in sorted(groups)))
        first = run(play_path, inventory, tmp, ns)
        assert first > 0, 'the example changed nothing in an empty namespace'
        assert run(play_path, inventory, tmp, ns) == 0, 'a second run changed something'
    finally:
        subprocess.run(['ip', 'netns', 'del', ns], check=False)
        subprocess.run(['rm', '-rf', tmp], check=False)
