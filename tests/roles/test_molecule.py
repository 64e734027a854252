"""Roles tier: every molecule scenario of the collection (extensions/molecule/<scenario>/molecule.yml, tracked by
git), run by pytest-ansible's `molecule_scenario` fixture as `molecule test -s <scenario>`.

The scenarios use the delegated driver of extensions/molecule/shared: create builds the scenario's platforms
as lab nodes (role seed.nodenet.lab), destroy removes them. Around each scenario this test checks what a
user would: it passed, the machine's own /etc files and host name are as before, and nothing of the lab is
left (namespaces, bound namespaces, processes).
"""
import hashlib
import os
import socket

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST_FILES = ('/etc/resolv.conf', '/etc/hosts', '/etc/hostname')


def host_snapshot():
    out = {'hostname': socket.gethostname()}
    for p in HOST_FILES:
        if os.path.exists(p):
            with open(p, 'rb') as f:
                out[p] = f.read()
    return out


def lab_name(scenario):
    """As extensions/molecule/shared/lab_name.yml derives it."""
    directory = os.path.join(ROOT, 'extensions', 'molecule', scenario)
    return os.environ.get('NODENET_MOLECULE_LAB') or 'mol' + hashlib.sha1(directory.encode('utf-8')).hexdigest()[:8]


def leftovers(name):
    found = []
    for d in ('/run/netns', '/run/nodenet/ns'):
        if os.path.isdir(d):
            found += [os.path.join(d, n) for n in os.listdir(d) if n.startswith(name + '-')]
    with open('/proc/self/mountinfo') as f:
        found += [line.split()[4] for line in f if '/run/nodenet/ns/%s-' % name in line]
    if os.path.exists('/run/nodenet/lab/' + name):
        found.append('/run/nodenet/lab/' + name)
    return found


def test_molecule_scenario(molecule_scenario):
    assert molecule_scenario.parent_directory.name == 'extensions', 'scenarios live in extensions/molecule/'
    name = lab_name(molecule_scenario.name)
    before = host_snapshot()
    print('molecule test -s %s (lab %s)' % (molecule_scenario.name, name), flush=True)
    proc = molecule_scenario.test()
    assert proc.returncode == 0, 'molecule test -s %s failed' % molecule_scenario.name
    assert host_snapshot() == before, "the scenario touched the machine's own files or host name"
    assert leftovers(name) == [], 'destroy left parts of the lab behind'
