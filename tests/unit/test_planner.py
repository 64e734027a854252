"""Planner cases as data (cases/planner.yml): no kernel involved."""
import os

import pytest
import yaml

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import StaticState
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import normalize, plan, summary

with open(os.path.join(os.path.dirname(__file__), 'cases', 'planner.yml')) as fh:
    CASES = yaml.safe_load(fh)


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_planner_case(case):
    state = StaticState(case['observed'])
    if 'error' in case:
        with pytest.raises(ValidationError) as exc:
            plan(normalize(case['desired']), state)
        for text in case['error']:
            assert text in str(exc.value)
        return
    ops = plan(normalize(case['desired']), state)
    assert [summary(op) for op in ops] == case['plan']
    for key, fields in (case.get('changes') or {}).items():
        op = [o for o in ops if o['key'] == key][0]
        for field, (before, after) in fields.items():
            assert op['before'][field] == before
            assert op['after'][field] == after
