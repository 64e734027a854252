"""Talos configs in and out, as data (cases/talos.yml, cases/talos_export.yml): no kernel involved.

Import: Talos documents (written from Talos's own examples) -> the network module's arguments,
the fields that can't be mapped reported by name, and for some cases the plan against a node.
Export: network_info's records -> Talos documents; reading them back plans nothing."""
import os

import pytest
import yaml

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import StaticState
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import plan, summary
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos import adopt, export, importer

HERE = os.path.join(os.path.dirname(__file__), 'cases')
with open(os.path.join(HERE, 'talos.yml')) as fh:
    CASES = yaml.safe_load(fh)
with open(os.path.join(HERE, 'talos_export.yml')) as fh:
    EXPORT_CASES = yaml.safe_load(fh)


def engine(case):
    return None if case.get('engine') == 'planned' else adopt.supported_options()


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_talos_import_case(case):
    if 'error' in case:
        with pytest.raises(ValidationError) as exc:
            importer.translate(case['config'], links=case.get('links'), supported=engine(case))
        for text in case['error']:
            assert text in str(exc.value)
        return
    spec, unmapped = importer.translate(case['config'], links=case.get('links'), supported=engine(case))
    assert spec == case['spec']
    assert [u['field'] for u in unmapped] == case['unmapped']
    assert all(u['reason'] for u in unmapped)
    if case.get('plan'):
        # kernel parameters and /etc files are planned against /proc/sys and this machine's files, which a
        # static observed state has not: the case plans the netlink kinds
        records = network.normalize_spec(dict((s, val) for s, val in spec.items()
                                              if s not in ('sysctls', 'resolver', 'hosts', 'hostname')))
        ops = plan(records, StaticState(case['plan']['observed']))
        assert [summary(op) for op in ops] == case['plan']['operations']


def test_yaml_text_and_documents_are_the_same_input():
    text = CASES[0]['config']
    assert importer.translate(text) == importer.translate(yaml.safe_load(text)) == importer.translate([yaml.safe_load(text)])


def test_secrets_are_collected_for_masking():
    case = [c for c in CASES if c['name'].startswith('WireguardConfig')][0]
    spec, dummy = importer.translate(case['config'])
    assert sorted(adopt.secrets(spec)) == ['6j4UMxwszrHVZZUjY8/SFsZMjgaHkxV7yp9Tz05btho=',
                                           'GA1E1VB+g41Dl0+UH2TMW9C5953y+moVg6JIIqkJbmw=']


def test_merge_with_sections_given_directly():
    spec, unmapped, dummy = adopt.adopt('apiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\n',
                                        {'links': [{'name': 'eth1', 'up': True}]})
    assert [x['name'] for x in spec['links']] == ['eth1', 'eth0']
    with pytest.raises(ValidationError) as exc:
        adopt.adopt('apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: a\n', {'hostname': {'hostname': 'b'}})
    assert exc.value.field == 'hostname' and 'talos_config' in str(exc.value)


def observed(facts):
    """network_info's lists -> the planner's {kind: {key: record}}."""
    out = {}
    for res, kind in (('links', 'link'), ('addresses', 'address'), ('routes', 'route'), ('rules', 'rule'),
                      ('wireguard', 'wireguard'), ('vips', 'vip')):
        out[kind] = dict((r['name'] if kind in ('link', 'wireguard') else KINDS[kind].key(r), r) for r in facts.get(res) or [])
    return out


@pytest.mark.parametrize('case', EXPORT_CASES, ids=[c['name'] for c in EXPORT_CASES])
def test_talos_export_case(case):
    docs, notes = export.export(case['facts'])
    assert docs == case['documents']
    assert [n['field'] for n in notes] == case['not_exported']
    # read back: the same node plans nothing
    spec, unmapped = importer.translate(export.dump(docs), supported=adopt.supported_options())
    assert unmapped == []
    files = dict((s, spec.pop(s)) for s in ('resolver', 'hostname', 'hosts') if s in spec)
    records = network.normalize_spec(spec)
    ops = plan(records, StaticState(observed(case['facts'])))
    assert [summary(op) for op in ops] == case.get('plan_after_import', [])
    assert files['resolver'] == {'nameservers': case['facts']['resolvers']['nameservers'],
                                 'search_domains': case['facts']['resolvers']['search_domains']}
    assert files['hostname'] == {'hostname': case['facts']['hostname']['fqdn']}
    # the managed block of /etc/hosts: StaticHostConfig documents, read back as the same entries
    assert (files.get('hosts') or {}).get('entries', []) == (case['facts'].get('hosts') or {}).get('entries', [])


def test_engine_error_about_a_translated_entry_names_the_talos_field():
    config = 'apiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\n---\napiVersion: v1alpha1\nkind: LinkConfig\nname: eth1\nmtu: 20\n'
    with pytest.raises(ValidationError) as exc:
        adopt.adopt(config, {'links': [{'name': 'eth9'}]})
    assert exc.value.field == 'links[2].mtu'
    assert '(from talos_config[1].mtu)' in str(exc.value)


def test_cluster_filter_translates_on_the_controller_and_reports_selectors():
    from ansible_collections.seed.nodenet.plugins.filter.talos import talos_network
    config = CASES[0]['config']    # the v1alpha1 reference case, plus sections given directly
    out = talos_network(config, {'links': [{'name': 'eth7', 'up': True}]})
    assert out['network']['links'][0] == {'name': 'eth7', 'up': True}
    assert out['network']['resolver'] == CASES[0]['spec']['resolver']
    sel = talos_network('version: v1alpha1\nmachine:\n  network:\n    interfaces:\n'
                        '      - deviceSelector: {hardwareAddr: "aa:*"}\n        mtu: 9000\n')
    assert sel['network'] == {}
    assert [u['field'] for u in sel['unmapped']] == ['talos_config[0].machine.network.interfaces[0].deviceSelector']
