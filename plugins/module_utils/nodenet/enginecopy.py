# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine copy: the engine's own sources written where the confirm-or-revert watchdog and the
boot unit run them without Ansible (a module's zip is gone once the task ends)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil
import sys
import tempfile

PKG = 'ansible_collections.seed.nodenet.plugins.module_utils.nodenet'


def engine_sources():
    """{relative path: source} of the engine modules loaded in this process (the module's own zip included)."""
    out = {}
    for name, mod in sorted(sys.modules.items()):
        if mod is None or not (name == PKG or name.startswith(PKG + '.')):
            continue
        loader = getattr(mod, '__loader__', None)
        src = loader.get_source(name) if loader is not None and hasattr(loader, 'get_source') else None
        if src is None:
            continue
        if isinstance(src, bytes):  # Ansible's collection loader hands sources back as bytes
            src = src.decode('utf-8')
        rel = name.split('.')
        is_pkg = hasattr(mod, '__path__')
        path = os.path.join(*(rel + ['__init__.py'])) if is_pkg else os.path.join(*rel) + '.py'
        out[path] = src
    # every parent directory is a package
    for path in list(out):
        parts = path.split(os.sep)[:-1]
        for i in range(1, len(parts) + 1):
            out.setdefault(os.path.join(*(parts[:i] + ['__init__.py'])), '')
    return out


def install_engine(dest):
    """Write a copy of the engine under `dest` (importable with dest on sys.path); replaced atomically.

    Returns (dest, changed)."""
    import_all()
    sources = engine_sources()
    digest = hashlib.sha256(json.dumps(sources, sort_keys=True).encode('utf-8')).hexdigest()
    stamp = os.path.join(dest, '.digest')
    try:
        with open(stamp) as f:
            if f.read().strip() == digest:
                return dest, False
    except (IOError, OSError):
        pass
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.%s.' % os.path.basename(dest), dir=parent)
    try:
        for rel, src in sources.items():
            p = os.path.join(tmp, rel)
            if not os.path.isdir(os.path.dirname(p)):
                os.makedirs(os.path.dirname(p))
            with open(p, 'w') as f:
                f.write(src)
        with open(os.path.join(tmp, '.digest'), 'w') as f:
            f.write(digest + '\n')
        os.chmod(tmp, 0o755)
        old = None
        if os.path.exists(dest):
            old = tmp + '.old'
            os.rename(dest, old)
        os.rename(tmp, dest)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest, True


def import_all():
    """Load every engine module the watchdog and the boot unit may need, so the copy is complete."""
    import importlib
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network  # noqa: F401 (pulls in kinds, files)
    for name in ('info', 'runner'):
        try:
            importlib.import_module('%s.%s' % (PKG, name))
        except ImportError:
            pass
