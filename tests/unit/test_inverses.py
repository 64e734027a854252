"""Golden cases for inverses (cases/inverses.yml): what a rollback replays, per kind. No kernel."""
import os

import pytest
import yaml

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS

with open(os.path.join(os.path.dirname(__file__), 'cases', 'inverses.yml')) as fh:
    CASES = yaml.safe_load(fh)


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_inverse_case(case):
    op = dict(case['op'])
    op.setdefault('before', None)
    op.setdefault('after', None)
    assert KINDS[op['kind']].inverse(op) == case['inverse']


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_inverse_of_inverse_is_the_operation(case):
    """Undoing the undo gives back the operation (up to the status-only fields a delete dropped)."""
    op = dict(case['op'])
    op.setdefault('before', None)
    op.setdefault('after', None)
    kind = KINDS[op['kind']]
    twice = kind.inverse(kind.inverse(op))
    assert (twice['kind'], twice['action'], twice['key']) == (op['kind'], op['action'], op['key'])
