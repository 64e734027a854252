"""Planner cases as data for links[].selector (cases/selector.yml) and links[].dhcp4/dhcp6
(cases/dhcp.yml), run like planner.yml's."""
import os

import pytest
import yaml

from test_planner import test_planner_case as run_case

CASES = []
for name in ('selector.yml', 'dhcp.yml'):
    with open(os.path.join(os.path.dirname(__file__), 'cases', name)) as fh:
        CASES.extend(yaml.safe_load(fh))


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_case(case):
    run_case(case)
