"""Action groups: every module of a group takes the group's shared options, so
`module_defaults: group/seed.nodenet.<group>: {...}` works for each of them.

Read from the collection itself (meta/runtime.yml and ansible-doc), so a module added to a group
without the group's options, or a module in no group, fails here by name.
"""
import json
import os
import subprocess
import tempfile
import uuid

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, '.venv', 'bin')

# The options every member of a group shares; the reason users set them once for the group.
SHARED = {'nodenet': ['netns'], 'files': ['backup']}
# Modules that belong to no group, each with its reason.
UNGROUPED = {'lab_topology': 'builds the lab from the controller; it configures no node',
             'wireguard_key': 'makes a key file; it takes no network namespace and writes no /etc file'}


def env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
                ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'), ANSIBLE_LOCALHOST_WARNING='false',
                ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1',
                PATH=VENV + os.pathsep + os.environ['PATH'])


def groups():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as f:
        return yaml.safe_load(f)['action_groups']


def modules():
    return sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, 'plugins', 'modules'))
                  if n.endswith('.py') and not n.startswith('_'))


def docs(names):
    p = subprocess.run([os.path.join(VENV, 'ansible-doc'), '--json', '-t', 'module']
                       + ['seed.nodenet.%s' % n for n in names], capture_output=True, text=True, env=env(), check=False)
    assert p.returncode == 0, p.stderr
    return {k.rsplit('.', 1)[1]: v['doc'] for k, v in json.loads(p.stdout).items()}


def test_every_module_is_in_a_group_with_the_groups_options():
    g = groups()
    assert set(g) == set(SHARED), 'a group without its shared options listed in this test: %s' % sorted(set(g) - set(SHARED))
    grouped = {m: name for name, members in g.items() for m in members}
    assert sorted(set(modules()) - set(grouped) - set(UNGROUPED)) == [], 'modules in no action group'
    assert sorted(set(UNGROUPED) & set(grouped)) == [], 'a module listed as ungrouped is in a group'
    assert sorted(set(grouped) - set(modules())) == [], 'action group members that are not modules'
    d = docs(modules())
    problems = []
    for m, group in sorted(grouped.items()):
        missing = [o for o in SHARED[group] if o not in d[m].get('options', {})]
        if missing:
            problems.append('%s is in group %s but takes no %s' % (m, group, ', '.join(missing)))
        membership = d[m].get('attributes', {}).get('action_group', {}).get('membership', [])
        if membership != ['seed.nodenet.%s' % group]:
            problems.append('%s documents action_group membership %s, runtime.yml says seed.nodenet.%s'
                            % (m, membership, group))
    assert problems == []


def test_module_defaults_for_the_groups_reach_each_module():
    """One playbook: netns given once for group/seed.nodenet.nodenet (network with src included: its action
    plugin passes the defaults on), backup for group/seed.nodenet.files."""
    ns = 'nnag-%s' % uuid.uuid4().hex[:8]
    subprocess.run(['ip', 'netns', 'add', ns], check=True)
    tmp = tempfile.mkdtemp(prefix='nnag-')
    hosts = os.path.join(tmp, 'hosts')
    with open(hosts, 'w') as f:
        f.write('127.0.0.1 localhost\n')
    node = os.path.join(tmp, 'node.yml')   # network's src: its action plugin passes the group's netns on
    with open(node, 'w') as f:
        f.write('addresses: [{address: 192.0.2.6/24, link: ag0}]\n')
    play = [{
        'hosts': 'localhost', 'gather_facts': False,
        'module_defaults': {'group/seed.nodenet.nodenet': {'netns': ns},
                            'group/seed.nodenet.files': {'backup': True}},
        'tasks': [
            {'seed.nodenet.link': {'name': 'ag0', 'kind': 'veth', 'peer': 'ag1', 'up': True}},
            {'seed.nodenet.address': {'address': '192.0.2.5/24', 'link': 'ag0'}},
            {'seed.nodenet.network': {'src': node}},
            {'seed.nodenet.network_info': {'gather': ['links']}},
            {'ansible.builtin.assert': {'that': ["ansible_facts.nodenet.links | selectattr('name', 'equalto', 'ag0') | list | length == 1"]}},
            {'seed.nodenet.hosts': {'path': hosts, 'entries': [{'ip': '192.0.2.5', 'aliases': ['node1']}]}},
        ]}]
    path = os.path.join(tmp, 'play.yml')
    with open(path, 'w') as f:
        yaml.safe_dump(play, f)
    try:
        p = subprocess.run([os.path.join(VENV, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', path],
                           capture_output=True, text=True, env=env(), check=False)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
        # the defaults reached the modules: the link is in the namespace, and hosts kept a backup
        out = subprocess.run(['ip', '-n', ns, '-o', 'addr', 'show', 'ag0'], capture_output=True, text=True, check=True).stdout
        assert '192.0.2.5/24' in out and '192.0.2.6/24' in out
        assert any(n.startswith('hosts.') for n in os.listdir(tmp)), os.listdir(tmp)
    finally:
        subprocess.run(['ip', 'netns', 'del', ns], check=False)
        subprocess.run(['rm', '-rf', tmp], check=False)
