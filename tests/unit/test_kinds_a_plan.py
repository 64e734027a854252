"""Planner cases as data for sysctl, multipath routes and NIC tuning (cases/sysctl.yml, ecmp.yml, nic.yml): no kernel."""
import os

import pytest
import yaml

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import StaticState
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import normalize, plan, summary
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS

CASES = []
for name in ('sysctl.yml', 'ecmp.yml', 'nic.yml'):
    path = os.path.join(os.path.dirname(__file__), 'cases', name)
    if os.path.exists(path):
        with open(path) as fh:
            CASES.extend(yaml.safe_load(fh))


def _state(case):
    state = StaticState(case['observed'])
    state.nl = type('NL', (), {'nodenet_netns': case.get('netns')})()
    return state


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_plan_case(case):
    state, ctx = _state(case), {}
    if 'error' in case:
        with pytest.raises(ValidationError) as exc:
            plan(normalize(case['desired']), state, ctx)
        text = '%s: %s' % (exc.value.field, exc.value)
        for want in case['error']:
            assert want in text
        return
    ops = plan(normalize(case['desired']), state, ctx)
    assert [summary(op) for op in ops] == case['plan']
    for key, fields in (case.get('changes') or {}).items():
        op = [o for o in ops if o['key'] == key][0]
        for field, (before, after) in fields.items():
            assert op['before'][field] == before
            assert op['after'][field] == after
    for want in case.get('warnings', []):
        assert any(want in w for w in ctx.get('warnings', [])), ctx
    # every operation has an inverse of the same kind and key, and undoing it twice is the op again
    for op in ops:
        inv = KINDS[op['kind']].inverse(op)
        assert (inv['kind'], inv['key']) == (op['kind'], op['key'])
        again = KINDS[op['kind']].inverse(inv)
        assert again['action'] == op['action'] and again['after'] == op['after']


def test_inverse_of_a_created_file_deletes_it():
    op = base.op('sysctl', 'create', 'file /x.conf', after={'file': '/x.conf', 'content': 'a = 1\n'})
    inv = KINDS['sysctl'].inverse(op)
    assert inv['action'] == 'delete' and inv['after'] is None
