"""What Galaxy, Automation Hub and a docs site check, on this checkout and on its built tarball.

- Every role has a README and meta/argument_specs.yml (galaxy-importer refuses a role without a
  README; argument specs are what ansible-doc -t role and the docs site show).
- galaxy-importer on the built tarball: no error and no warning (it runs ansible-doc on every
  plugin and ansible-lint on the content, as Galaxy does).
- scripts/build-docs: antsibull-docs lint of every plugin's and role's docs, then the Sphinx site,
  warnings as errors. Offline: links into docs.ansible.com come from a local inventory, so
  only whether those pages exist is left unchecked (scripts/build-docs --online checks it too).
"""
import json
import os
import re
import shutil

import pytest
import yaml

from .common import ROOT, build_tarball, run, scratch

ROLES = os.path.join(ROOT, 'roles')


def roles():
    return sorted(r for r in os.listdir(ROLES) if os.path.isdir(os.path.join(ROLES, r))) if os.path.isdir(ROLES) else []


def test_every_role_has_a_readme_and_an_argument_spec():
    problems = []
    for role in roles():
        d = os.path.join(ROLES, role)
        if not os.path.isfile(os.path.join(d, 'README.md')):
            problems.append('roles/%s has no README.md' % role)
        spec = os.path.join(d, 'meta', 'argument_specs.yml')
        if not os.path.isfile(spec):
            problems.append('roles/%s has no meta/argument_specs.yml' % role)
            continue
        with open(spec) as f:
            main = (yaml.safe_load(f) or {}).get('argument_specs', {}).get('main')
        if not main or not main.get('short_description'):
            problems.append('roles/%s/meta/argument_specs.yml has no main entry point with a short_description' % role)
    assert roles(), 'no roles found'
    assert problems == []


@pytest.fixture(scope='module')
def work():
    d = scratch('nngi-')
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_galaxy_importer_accepts_the_tarball_without_warnings(work):
    tarball = build_tarball(work)
    cfg = os.path.join(work, 'galaxy-importer.cfg')
    with open(cfg, 'w') as f:
        # Galaxy's own checks (ansible-doc, ansible-lint offline); ansible-test needs a container engine.
        f.write('[galaxy-importer]\nRUN_ANSIBLE_DOC = True\nRUN_ANSIBLE_LINT = True\nRUN_ANSIBLE_TEST = False\n'
                'CHECK_CHANGELOG = True\nLOG_LEVEL_MAIN = INFO\n')
    p = run(['python', '-m', 'galaxy_importer.main', '--print-result', tarball], cwd=work, GALAXY_IMPORTER_CONFIG=cfg)
    assert p.returncode == 0, p.stdout[-5000:]
    bad = [line for line in p.stdout.splitlines() if re.match(r'\s*(WARNING|ERROR)\b', line)]
    assert bad == [], '\n'.join(bad)
    assert 'Importer processing completed successfully' in p.stdout
    # what the import found: every module, every role, the docs and the license
    for role in roles():
        assert 'Loading role %s' % role in p.stdout, p.stdout[-3000:]
    for name in os.listdir(os.path.join(ROOT, 'plugins', 'modules')):
        if name.endswith('.py'):
            assert 'Loading module %s' % name[:-3] in p.stdout, name
    result = json.loads(p.stdout[p.stdout.index('{'):])
    blob = result['docs_blob']
    assert blob['collection_readme']['name'] == 'README.md'
    assert [d['name'] for d in blob['documentation_files']], 'no documentation files found'
    assert result['contents'] and result['requires_ansible'], sorted(result)


def test_docs_site_builds_with_warnings_as_errors():
    p = run([os.path.join(ROOT, 'scripts', 'build-docs')], timeout=1800)
    assert p.returncode == 0, p.stdout[-6000:]
    html = os.path.join(ROOT, '.build', 'docs', 'build', 'html', 'collections', 'seed', 'nodenet')
    pages = set(os.listdir(html))
    for name in os.listdir(os.path.join(ROOT, 'plugins', 'modules')):
        if name.endswith('.py'):
            assert '%s_module.html' % name[:-3] in pages, name
    for role in roles():
        assert '%s_role.html' % role in pages, role
    with open(os.path.join(ROOT, 'docs', 'docsite', 'extra-docs.yml')) as f:
        guides = [g for s in yaml.safe_load(f)['sections'] for g in s['toctree']]
    for guide in guides:
        assert os.path.exists(os.path.join(html, 'docsite', '%s.html' % guide)), guide
