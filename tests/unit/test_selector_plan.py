"""Planner cases as data for links[].selector (cases/selector.yml), run like planner.yml's."""
import os

import pytest
import yaml

from test_planner import test_planner_case as run_case

with open(os.path.join(os.path.dirname(__file__), 'cases', 'selector.yml')) as fh:
    CASES = yaml.safe_load(fh)


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_selector_case(case):
    run_case(case)
