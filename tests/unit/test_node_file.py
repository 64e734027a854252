"""The network module's node state file (`src`), read on the controller: parsing and the merge rules.

The action plugin runs these before the module; the integration tier (tests/integration/test_network_src.py)
runs the same cases through ansible-playbook against a namespace."""
import ast
import os

import pytest
import yaml

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import ALL_SECTIONS
from ansible_collections.seed.nodenet.plugins.plugin_utils.node_file import SECTIONS, NodeFileError, merge, parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_sections_are_the_engine_registrys_and_the_modules_options():
    """The controller's copy of the section names may not drift from the registry, nor from the docs."""
    assert sorted(SECTIONS) == sorted(s for s, dummy in ALL_SECTIONS)
    with open(os.path.join(ROOT, 'plugins', 'modules', 'network.py')) as f:
        tree = ast.parse(f.read())
    doc = [n.value.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == 'DOCUMENTATION'][0]
    options = yaml.safe_load(doc)['options']
    missing = [s for s in SECTIONS if s not in options and s not in ('wireguard', 'firewall')]  # those two: fragments
    assert missing == []
    for s in SECTIONS:
        assert 'C(%s)' % s in options['src']['description'][0], 'src does not list section %s' % s


def test_yaml_and_json_parse_as_plain_data_with_nothing_templated():
    text = 'links:\n  - {name: eth0, mtu: 9000, up: true}\nhostname: {hostname: "{{ inventory_hostname }}"}\n'
    assert parse(text.encode(), 'node1.yml') == {'links': [{'name': 'eth0', 'mtu': 9000, 'up': True}],
                                                 'hostname': {'hostname': '{{ inventory_hostname }}'}}
    assert parse(b'{"links": [{"name": "eth0", "up": true}]}', '/x/node1.JSON') == {'links': [{'name': 'eth0', 'up': True}]}


@pytest.mark.parametrize('data, path, words', [
    (b'links: [ {name: eth0\n', 'n.yml', ['src: n.yml is not valid YAML (line 2, column 1)']),
    (b'{"links": [}', 'n.json', ['src: n.json is not valid JSON', 'line 1']),
    (b'links: !!python/object:os.system {}\n', 'n.yml', ['src: n.yml is not valid YAML', 'python/object']),
    (b'\xff\xfe', 'n.yml', ['src: n.yml is not UTF-8 text']),
])
def test_a_file_that_does_not_parse_names_src_and_where(data, path, words):
    with pytest.raises(NodeFileError) as e:
        parse(data, path)
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize('state, words', [
    (None, ['src: f.yml must hold a mapping of sections', 'links, bonds', 'but it is empty']),
    ([{'name': 'eth0'}], ['src: f.yml must hold a mapping', 'but it is a list']),
    ('links', ['but it is a string']),
    ({'links': [], 'purge': ['addresses'], 'netns': 'x'},
     ['src: f.yml has unknown keys netns, purge;', 'only the sections links, bonds, vlans', 'firewall (netns, purge']),
    ({'link': []}, ['src: f.yml has unknown key link;']),
])
def test_a_file_that_is_not_a_mapping_of_sections_is_refused(state, words):
    with pytest.raises(NodeFileError) as e:
        merge({'src': 'f.yml'}, state, 'f.yml')
    for w in words:
        assert w in str(e.value)


def test_a_section_in_the_task_and_in_the_file_is_an_error_naming_both():
    with pytest.raises(NodeFileError) as e:
        merge({'src': 'f.yml', 'links': [], 'routes': [{'destination': 'default'}], 'addresses': None},
              {'links': [{'name': 'eth0'}], 'routes': [], 'addresses': [{'address': '192.0.2.1/24', 'link': 'eth0'}]},
              '/p/files/f.yml')
    assert str(e.value) == ('links, routes given both in the task and in src (/p/files/f.yml); '
                            'give each section in one place')


def test_the_file_sections_join_the_task_arguments_without_src():
    args = {'src': 'f.yml', 'netns': 'n1', 'purge': ['addresses'], 'hosts': {'entries': []}, 'links': None}
    out = merge(args, {'links': [{'name': 'eth0'}], 'routes': None}, 'f.yml')
    assert out == {'netns': 'n1', 'purge': ['addresses'], 'hosts': {'entries': []}, 'links': [{'name': 'eth0'}]}
    assert 'src' in args, 'the task arguments were changed in place'
