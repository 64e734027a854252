"""The engine's bytecode cache (module_utils/nodenet/bytecode.py), the way Ansible runs a module:
the engine in a zip on sys.path, imported in a fresh Python process."""
import json
import os
import stat
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = 'ansible_collections.seed.nodenet.plugins.module_utils.nodenet'

PROBE = r'''
import json, os, sys, traceback
sys.path.insert(0, sys.argv[1])
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import bytecode, validate
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
finders = [f for f in sys.meta_path if isinstance(f, bytecode.Finder)]
mods = dict((n, m) for n, m in sys.modules.items() if n.startswith(bytecode.__name__.rpartition('.')[0] + '.'))
try:
    network.normalize_spec({'links': [{'name': 'x' * 40}]})
    where = None
except ValidationError:
    where = traceback.extract_tb(sys.exc_info()[2])[-1].filename
print(json.dumps({
    'finder': bool(finders), 'path': finders[0].path if finders else None,
    'hits': finders[0].hits if finders else 0, 'compiled': finders[0].compiled if finders else 0,
    'modules': len(mods), 'loaders': sorted(set(type(m.__loader__).__name__ for m in mods.values())),
    'kinds_file': sys.modules[bytecode.__name__.rpartition('.')[0] + '.kinds.link'].__file__,
    'raised_in': where,
}))
'''


def make_zip(path, append=None):
    """The engine as Ansible's module zip holds it: the package tree with __init__.py at every level.
    append: {path under the engine: text added to that file} (a newer version of it)."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        parts = PKG.split('.')
        for i in range(1, len(parts)):
            z.writestr('/'.join(parts[:i]) + '/__init__.py', '')
        src = os.path.join(ROOT, 'plugins', 'module_utils', 'nodenet')
        for base, dirs, files in os.walk(src):
            dirs[:] = [d for d in dirs if d != '__pycache__']
            for name in files:
                if name.endswith('.py'):
                    full = os.path.join(base, name)
                    rel = os.path.relpath(full, src).replace(os.sep, '/')
                    with open(full, 'rb') as f:
                        data = f.read() + (append or {}).get(rel, '').encode('utf-8')
                    z.writestr('/'.join(parts) + '/' + rel, data)


def probe(zip_path, run_dir, **env):
    # a Python that finds ansible (the venv) but not this checkout's collection: only the zip has it
    environ = dict(os.environ, NODENET_RUN_DIR=str(run_dir), PYTHONDONTWRITEBYTECODE='1', **env)
    environ.pop('PYTHONPATH', None)
    out = subprocess.run([sys.executable, '-c', PROBE, str(zip_path)], env=environ, capture_output=True, text=True,
                         check=True, cwd=str(zip_path.parent))
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def engine_zip(tmp_path):
    path = tmp_path / 'AnsiballZ_one.zip'
    make_zip(str(path))
    return path


def test_compiled_once_then_loaded_from_the_cache(engine_zip, tmp_path):
    run = tmp_path / 'run'
    first = probe(engine_zip, run)
    assert first['finder'] and first['path'] == str(run / 'bytecode')
    assert first['loaders'] == ['CachedLoader', 'zipimporter'] or first['loaders'] == ['CachedLoader']
    assert first['compiled'] >= 40 and first['hits'] == 0
    cache = run / 'bytecode'
    assert stat.S_IMODE(os.stat(str(cache)).st_mode) == 0o700
    entries = sorted(os.listdir(str(cache)))
    assert len(entries) == first['compiled']
    assert all(stat.S_IMODE(os.stat(str(cache / e)).st_mode) == 0o600 for e in entries)
    # the next task, from another zip (Ansible writes a new one each time): every module from the cache
    other = tmp_path / 'AnsiballZ_two.zip'
    make_zip(str(other))
    second = probe(other, run)
    assert second['compiled'] == 0 and second['hits'] == first['compiled']
    assert sorted(os.listdir(str(cache))) == entries
    # files and tracebacks name this run's zip, not the one the code was first compiled from
    assert second['kinds_file'].startswith(str(other) + os.sep)
    assert second['raised_in'].startswith(str(other) + os.sep)


def test_changed_source_is_compiled_again_never_served_stale(engine_zip, tmp_path):
    run = tmp_path / 'run'
    probe(engine_zip, run)
    changed = tmp_path / 'AnsiballZ_changed.zip'
    make_zip(str(changed), append={'kinds/link.py': '\nNEW_IN_THIS_VERSION = True\n'})
    res = probe(changed, run)
    assert res['compiled'] == 1


def test_unsafe_cache_directory_is_not_used(engine_zip, tmp_path):
    run = tmp_path / 'run'
    (run / 'bytecode').mkdir(parents=True)
    os.chmod(str(run / 'bytecode'), 0o777)
    res = probe(engine_zip, run)
    # no cache read or written, but each module is still compiled once (zipimport compiles twice)
    assert res['finder'] and res['path'] is None and res['hits'] == 0 and res['compiled'] >= 40
    assert os.listdir(str(run / 'bytecode')) == []


def test_switched_off(engine_zip, tmp_path):
    run = tmp_path / 'run'
    res = probe(engine_zip, run, NODENET_BYTECODE_CACHE='0')
    assert not res['finder'] and res['loaders'] == ['zipimporter']
    assert not (run / 'bytecode').exists()
