"""The changelog: fragments lint clean, CHANGELOG.rst and CHANGELOG.md are what antsibull-changelog
generates from changelogs/changelog.yaml, and version_added tells the same story as the releases."""
import os
import re

import yaml

from .common import ROOT, run, scratch


def test_fragments_and_changelog_yaml_lint_clean():
    p = run(['antsibull-changelog', 'lint'])
    assert p.returncode == 0 and p.stdout.strip() == '', p.stdout


def test_changelog_files_are_generated_from_changelog_yaml():
    out = scratch('nnch-')
    for fmt, name in (('rst', 'CHANGELOG.rst'), ('md', 'CHANGELOG.md')):
        target = os.path.join(out, name)
        p = run(['antsibull-changelog', 'generate', '--output', target, '--output-format', fmt])
        assert p.returncode == 0, p.stdout
        with open(target) as a, open(os.path.join(ROOT, name)) as b:
            assert a.read() == b.read(), '%s is not what antsibull-changelog generates: run antsibull-changelog generate' % name


def test_version_added_matches_the_release_that_introduced_each_module():
    with open(os.path.join(ROOT, 'changelogs', 'changelog.yaml')) as f:
        releases = yaml.safe_load(f)['releases']
    with open(os.path.join(ROOT, 'galaxy.yml')) as f:
        version = yaml.safe_load(f)['version']
    introduced = {m['name']: v for v, r in releases.items() for m in r.get('modules', [])}
    assert version in releases or all(tuple(map(int, v.split('.'))) < tuple(map(int, version.split('.'))) for v in releases), \
        'galaxy.yml version %s is older than a release in changelog.yaml' % version
    problems = []
    moddir = os.path.join(ROOT, 'plugins', 'modules')
    for name in sorted(n[:-3] for n in os.listdir(moddir) if n.endswith('.py')):
        with open(os.path.join(moddir, name + '.py')) as f:
            m = re.search(r'^version_added:\s*["\']?([0-9.]+)', f.read(), re.M)
        added = m.group(1) if m else None
        expected = introduced.get(name, version)   # not released yet: it comes with galaxy.yml's version
        if added != expected:
            problems.append('%s: version_added %s, expected %s' % (name, added, expected))
    assert problems == []
