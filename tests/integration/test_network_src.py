"""Integration tier for seed.nodenet.network's src (a node state file read by the action plugin on the
controller), through ansible-playbook against a scratch namespace: check mode and diff, apply, re-runs
from an ansible-vault encrypted and a JSON copy (changed=0), every error case with the namespace left
exactly as it was, and the module refusing src when it runs without the action plugin."""
import json
import os
import subprocess
import sys

import yaml

# netns is a fixture
from .test_playbooks import HERE, ROOT, VENV, links, netns, playbook  # noqa: F401 pylint: disable=unused-import

NODE_FILE = os.path.join(HERE, 'playbooks', 'files', 'node_src.yml')


def test_node_state_from_src_check_run_and_rerun_from_vault_and_json(netns, tmp_path):  # noqa: F811
    hosts = tmp_path / 'hosts'
    hosts.write_text('127.0.0.1 localhost\n')
    hosts_var = 'hosts_path=%s' % hosts
    empty = links(netns)
    r = playbook('network_src.yml', netns, '--check', '--diff', '-e', hosts_var)
    assert r['rc'] == 0 and r['changed'] == 1, r['out'][-3000:]
    # the diff shows the file's objects and the task's hosts section together
    assert 'links: mv0 (after)' in r['out'] and 'routes: 10.20.0.0/16 table 100 metric 0 (after)' in r['out'], r['out'][-3000:]
    assert '+192.0.2.10 node1.example.com node1' in r['out'], r['out'][-3000:]
    assert links(netns) == empty and hosts.read_text() == '127.0.0.1 localhost\n', 'check mode changed something'
    r = playbook('network_src.yml', netns, '-e', hosts_var)
    assert r['rc'] == 0 and r['changed'] == 1 and r['failed'] == 0, r['out'][-3000:]
    # the same state from an ansible-vault encrypted copy (absolute path): nothing to change
    vault = tmp_path / 'node.vault.yml'
    vault.write_text(open(NODE_FILE).read())
    password = tmp_path / 'vault-password'
    password.write_text('nodenet-test-password\n')
    subprocess.run([os.path.join(VENV, 'ansible-vault'), 'encrypt', '--vault-password-file', str(password), str(vault)],
                   check=True, capture_output=True)
    assert vault.read_text().startswith('$ANSIBLE_VAULT;')
    r = playbook('network_src.yml', netns, '-e', hosts_var, '-e', 'node_src=%s' % vault,
                 '--vault-password-file', str(password))
    assert r['rc'] == 0 and r['changed'] == 0 and r['failed'] == 0, r['out'][-3000:]
    # and from JSON, in check mode: nothing to change either
    as_json = tmp_path / 'node.json'
    as_json.write_text(json.dumps(yaml.safe_load(open(NODE_FILE))))
    r = playbook('network_src.yml', netns, '--check', '-e', hosts_var, '-e', 'node_src=%s' % as_json)
    assert r['rc'] == 0 and r['changed'] == 0, r['out'][-3000:]


def dump(netns):
    """The namespace as ip shows it in detail: links, addresses, routes of every table, rules."""
    out = []
    for what in (['-d', 'link'], ['addr'], ['route', 'show', 'table', 'all'], ['-6', 'route', 'show', 'table', 'all'], ['rule']):
        out.append(subprocess.run(['ip', '-j', '-n', netns] + what, capture_output=True, text=True, check=True).stdout)
    return out


def test_src_errors_name_src_and_the_file_and_leave_the_namespace_as_it_was(netns, tmp_path):  # noqa: F811
    # a node with something to lose (links left down: no IPv6 link-local addresses coming and going)
    for cmd in (['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'sw0'], ['addr', 'add', '192.0.2.10/24', 'dev', 'eth0']):
        subprocess.run(['ip', '-n', netns] + cmd, check=True)
    files = {
        # each would change the node if it were applied (purge, a new address, a new link)
        'both.yml': 'addresses: [{address: 192.0.2.12/24, link: eth0}]\n',
        'unknown.yml': 'link: [{name: eth0, mtu: 1400}]\npurge: [addresses]\nlinks: [{name: eth0, up: true}]\n',
        'list.yml': '- {name: eth0, up: true}\n',
        'broken.yml': 'links:\n  - {name: eth0, up: true}\n  - {name: eth1 up: true\n',
        'jinja.yml': "links: [{name: \"{{ 'eth9' }}\", kind: veth, peer: x9, up: true}]\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / 'adirectory').mkdir()
    before = dump(netns)
    r = playbook('network_src_errors.yml', netns, '-e', 'dir=%s' % tmp_path)
    assert r['rc'] == 0 and r['failed'] == 0, r['out'][-5000:]
    assert dump(netns) == before, 'a bad node file changed the namespace'


def test_the_module_refuses_src_without_its_action_plugin(tmp_path):
    """Run as a plain module (as some tools call modules directly), src can't be read: it says so."""
    args = tmp_path / 'args.json'
    args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'src': 'node1.yml', 'netns': 'nnsrc-never-made'}}))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, '.build', 'collections'))
    p = subprocess.run([sys.executable, '-m', 'ansible_collections.seed.nodenet.plugins.modules.network', str(args)],
                       capture_output=True, text=True, env=env, check=False)
    result = json.loads(p.stdout)
    assert p.returncode == 1 and result['failed'] and result['field'] == 'src', p.stdout + p.stderr
    assert 'read on the controller by the seed.nodenet.network action plugin' in result['msg']
