"""Planner cases as data (cases/planner.yml): no kernel involved."""
import os

import pytest
import yaml

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import checks
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import StaticState
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import normalize, plan, summary

with open(os.path.join(os.path.dirname(__file__), 'cases', 'planner.yml')) as fh:
    CASES = yaml.safe_load(fh)


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_planner_case(case):
    state = StaticState(case['observed'])

    def planned():
        """The plan with `purge`; with `node: true` judged by the network module's cross-object checks."""
        records = normalize(case['desired'])
        ops = plan(records, state, purge=case.get('purge', ()))
        if case.get('node'):
            checks.whole_node(records, state, ops)
        return ops
    if 'error' in case:
        with pytest.raises(ValidationError) as exc:
            planned()
        for text in case['error']:
            assert text in str(exc.value)
        if 'field' in case:
            assert exc.value.field == case['field']
        return
    ops = planned()
    assert [summary(op) for op in ops] == case['plan']
    for key, fields in (case.get('changes') or {}).items():
        op = [o for o in ops if o['key'] == key][0]
        for field, (before, after) in fields.items():
            assert op['before'][field] == before
            assert op['after'][field] == after


def test_ports_another_manager_owns_are_named_in_a_warning(tmp_path, monkeypatch):
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import netdev
    devices = tmp_path / 'NetworkManager' / 'devices'
    devices.mkdir(parents=True)
    (devices / '2').write_text('[device]\nmanaged=true\n')
    monkeypatch.setattr(netdev, 'RUN_DIR', str(tmp_path))
    state = StaticState({'link': {'eth1': {'name': 'eth1', 'index': 2, 'kind': None, 'up': True},
                                  'eth2': {'name': 'eth2', 'index': 3, 'kind': None, 'up': True}}})
    state.nl = object()          # the node's own namespace: no nodenet_netns
    ctx = {}
    plan(normalize({'bond': [{'name': 'bond0', 'links': ['eth1', 'eth2']}]}), state, ctx)
    assert ctx['warnings'] == ["link 'eth1' (to become a port of 'bond0') is managed by NetworkManager, "
                               "which may undo this change; mark it unmanaged there"]
    # inside a lab namespace the host's manager files say nothing about its links
    state.nl = type('NL', (), {'nodenet_netns': 'lab'})()
    ctx = {}
    plan(normalize({'bond': [{'name': 'bond0', 'links': ['eth1', 'eth2']}]}), state, ctx)
    assert 'warnings' not in ctx
