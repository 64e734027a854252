# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bytecode cache for the engine when a module runs from Ansible's zip.

Ansible ships a module with its module_utils in a zip and Python imports them with zipimport, which
never caches bytecode and compiles each module twice (its find_spec compiles the source just to name
the file): every task compiled the whole engine from source twice, about 0.4-0.5 s of CPU at each
module's start on this project's 2-core test machine. install() puts a finder in front of the
engine's package that reads the sources from the zip itself, compiles each engine module once and
keeps the code object in the run directory (`$NODENET_RUN_DIR/bytecode`, by default
/run/nodenet/bytecode: tmpfs, gone at reboot); later tasks load it from there.

An entry is named by a BLAKE2 hash of the Python's bytecode magic number, the module's name and its
source, so a cached entry is only ever used for exactly the source it was compiled from. The cache
directory is used only if it belongs to the running user and nobody else can write to it; entries
are written 0600 and replaced atomically; if the directory is unusable, modules are still compiled
only once. NODENET_BYTECODE_CACHE=0 turns all of it off (plain zipimport). Nothing changes
for the engine imported from files (tests, the watchdog's engine copy): Python caches those itself.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import importlib.util
import marshal
import os
import sys
import zipimport

try:
    from _imp import _fix_co_filename
except ImportError:  # pragma: no cover - CPython has it
    _fix_co_filename = None

DIRNAME = 'bytecode'


def cache_dir():
    """The cache directory, made if missing; None if it can't be made or is not safe to load code from."""
    path = os.path.join(os.environ.get('NODENET_RUN_DIR', '/run/nodenet'), DIRNAME)
    try:
        os.makedirs(path, 0o700, exist_ok=True)
        st = os.stat(path)
    except OSError:
        return None
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return None
    return path


def install(package, spec):
    """Called by the engine package's __init__: put the finder in place when the package came from a zip."""
    if os.environ.get('NODENET_BYTECODE_CACHE', '1') == '0':
        return None
    if spec is None or not isinstance(getattr(spec, 'loader', None), zipimport.zipimporter):
        return None
    for finder in sys.meta_path:
        if isinstance(finder, Finder) and finder.package == package:
            return finder
    # without a usable cache directory the finder still spares zipimport's second compile of each module
    finder = Finder(package, cache_dir())
    sys.meta_path.insert(0, finder)
    return finder


class Finder(object):
    """Finds the engine's modules in the zip without zipimporter's find_spec (which compiles each module
    just to name its file, and then again to run it), and loads them through CachedLoader."""

    def __init__(self, package, path):
        self.package, self.path = package, path
        self.hits, self.compiled = 0, 0

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(self.package + '.'):
            return None
        name = fullname.rpartition('.')[2]
        for entry in path or ():
            zipped = sys.path_importer_cache.get(entry)
            if zipped is None and entry not in sys.path_importer_cache:
                try:
                    zipped = sys.path_importer_cache[entry] = zipimport.zipimporter(entry)
                except (zipimport.ZipImportError, OSError):
                    continue  # not a path inside a zip; Python's own finders take it
            if not isinstance(zipped, zipimport.zipimporter):
                continue
            try:
                is_package = zipped.is_package(fullname)
            except zipimport.ZipImportError:
                continue  # not in this entry
            where = os.path.join(zipped.archive, zipped.prefix, name)
            filename = os.path.join(where, '__init__.py') if is_package else where + '.py'
            spec = importlib.util.spec_from_loader(fullname, CachedLoader(zipped, self, filename), origin=filename,
                                                   is_package=is_package)
            spec.has_location = True
            if is_package:
                spec.submodule_search_locations = [where]
            return spec
        return None  # not from a zip: Python's own finders take it


class CachedLoader(object):
    """zipimporter's loading, with the compiled code kept in the finder's directory."""

    def __init__(self, zipped, finder, filename):
        self.zipped, self.finder, self.filename = zipped, finder, filename

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module):
        exec(self.get_code(module.__name__), module.__dict__)  # pylint: disable=exec-used

    def is_package(self, fullname):
        return self.zipped.is_package(fullname)

    def get_source(self, fullname):
        return self.zipped.get_source(fullname)

    def get_filename(self, fullname):
        return self.filename

    def get_code(self, fullname):
        source = self.zipped.get_source(fullname)
        if source is None:
            return self.zipped.get_code(fullname)
        data = source.encode('utf-8') if not isinstance(source, bytes) else source
        if self.finder.path is None:
            self.finder.compiled += 1
            return compile(data, self.filename, 'exec', dont_inherit=True)
        key = hashlib.blake2b(importlib.util.MAGIC_NUMBER + fullname.encode('utf-8') + b'\0' + data, digest_size=24).hexdigest()
        entry = os.path.join(self.finder.path, key)
        try:
            with open(entry, 'rb') as f:
                code = marshal.loads(f.read())
        except (OSError, EOFError, ValueError, TypeError):
            code = None
        if code is not None:
            self.finder.hits += 1
            if _fix_co_filename is not None:
                _fix_co_filename(code, self.filename)  # tracebacks name this run's file, not the first one's
            return code
        code = compile(data, self.filename, 'exec', dont_inherit=True)
        self.finder.compiled += 1
        tmp = '%s.%d.tmp' % (entry, os.getpid())
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'wb') as f:
                f.write(marshal.dumps(code))
            os.replace(tmp, entry)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return code
