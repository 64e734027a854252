"""The doc fragments that describe one entry twice (module options and network-module suboptions) must agree.

ansible-test's yamllint only reads literal strings in doc fragments, so the two copies are written out; this test
keeps them from drifting apart.
"""
import importlib.util
import os
import textwrap

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _fragment(name):
    path = os.path.join(ROOT, 'plugins', 'doc_fragments', name + '.py')
    spec = importlib.util.spec_from_file_location('fragment_' + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ModuleDocFragment


@pytest.mark.parametrize('name', ['wireguard', 'firewall'])
def test_network_section_repeats_module_options(name):
    fragment = _fragment(name)
    module_options = yaml.safe_load(fragment.DOCUMENTATION)['options']
    section = yaml.safe_load(fragment.NETWORK)['options'][name]['suboptions']
    assert section == module_options
    body = fragment.DOCUMENTATION.split('options:\n', 1)[1]
    assert fragment.NETWORK.split('suboptions:\n', 1)[1] == textwrap.indent(textwrap.dedent(body), '      ')
