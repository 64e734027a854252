"""The firewall's diff reads like the kernel's own listing (issue 18).

For every compile case of tests/unit/cases/firewall.yml and the README's example, the table is
applied in a fresh namespace; the `after` text of the module's diff must be line for line what
`nft list table inet nodenet` prints there, counters aside. The README's listing of its example
is that same text (its trailing `# ...` remarks aside).
"""
import os
import re
import subprocess

import pytest
import yaml

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import firewall as fw
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import runner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, 'tests', 'unit', 'cases', 'firewall.yml')) as fh:
    CASES = [(c['name'], c['params']) for c in yaml.safe_load(fh)]


def readme_example():
    """The README's firewall task and the listing after it ('becomes one table of its own ...')."""
    with open(os.path.join(ROOT, 'README.md')) as fh:
        text = fh.read()
    section = text[text.index('### Ingress firewall'):]
    task = re.search(r'```yaml\n(.*?)```', section, re.S).group(1)
    listing = re.search(r'```\n(table inet nodenet \{.*?)```', section, re.S).group(1)
    params = yaml.safe_load(task)[0]['seed.nodenet.firewall']
    return params, listing


def kernel_listing(netns):
    out = subprocess.run(['ip', 'netns', 'exec', netns, 'nft', 'list', 'table', 'inet', 'nodenet'],
                         check=True, capture_output=True, text=True).stdout
    lines = []
    for line in out.splitlines():
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip('\t'))
        lines.append('  ' * depth + re.sub(r' counter packets \d+ bytes \d+', '', line.strip()))
    return lines


@pytest.mark.parametrize('params', [case[1] for case in CASES] + [readme_example()[0]],
                         ids=[case[0] for case in CASES] + ['README example'])
def test_diff_is_the_kernel_listing(netns, params):
    result = runner.single('firewall', dict(params, allow_lockout=True), netns=netns, diff_mode=True)
    assert result['changed']
    after = result['diff'][0]['after'].splitlines()
    assert after == kernel_listing(netns)


def test_readme_listing_is_what_the_diff_shows():
    params, listing = readme_example()
    shown = [re.sub(r'\s+#.*$', '', line) for line in listing.splitlines()]
    expected = fw.format_table(fw.compile_model(fw.normalize(params))).splitlines()
    assert shown == expected
