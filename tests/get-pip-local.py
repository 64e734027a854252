# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for the ``get-pip.py`` script that ansible-test downloads.

Why this exists
---------------
When ``ansible-test`` creates a virtual environment (``--venv`` / ``--controller
origin:python=venv/...`` and every sanity test's own environment under
``~/.ansible/test/venv``) it creates it *without* pip and then bootstraps pip with
a script fetched from ``https://ci-files.testing.ansible.com/ansible-test/get-pip-<V>.py``
(see ``ansible_test/_util/target/setup/requirements.py``, function ``bootstrap``).
That host is not reachable from here. ansible-test first looks for a cached copy at
``~/.ansible/test/cache/get_pip_<V with dots as underscores>.py`` and, if the file is
there, never downloads anything. ``scripts/test-sanity`` copies this file to that
path. ansible-test has no environment variable or option to change the URL.

How ansible-test runs it
------------------------
Through its ``quiet_pip.py`` wrapper: ``GET_PIP=<cache path>`` is set and the module
is executed with ``runpy`` as ``__main__``, with arguments in the ``get-pip.py`` style:

    --disable-pip-version-check pip==25.2 --no-setuptools --no-wheel

What this does instead
----------------------
It puts the pip wheel that the interpreter bundles in ``ensurepip`` on ``sys.path``
(pip is designed to run straight from its wheel) and runs ``pip install`` with the
same arguments, minus the two ``get-pip.py``-only flags. That installs the exact pip
version ansible-test asked for from the package index configured for pip (PyPI or a
mirror). If the index cannot be reached, it installs the bundled pip wheel itself
instead and says so, so the environment still gets a working (older) pip.

This file must stay importable on every Python that ansible-test may target
(3.9 and later), so it only uses the standard library.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys

MARKER = 'seed.nodenet offline get-pip stand-in'  # scripts/test-sanity looks for this line

GET_PIP_ONLY_FLAGS = ('--no-setuptools', '--no-wheel', '--no-pip')


def bundled_pip_wheel() -> str:
    """Return the path of the pip wheel bundled with this interpreter's ensurepip."""
    try:
        import ensurepip
    except ImportError as ex:  # some distributions strip ensurepip
        raise SystemExit('get-pip-local: this Python has no ensurepip module (%s); install the venv/ensurepip package for it' % ex)

    candidates = [os.path.join(os.path.dirname(ensurepip.__file__), '_bundled')]
    # Debian/Ubuntu patch ensurepip to take wheels from a shared directory instead.
    for attr in ('_WHEEL_PKG_DIR',):
        value = getattr(ensurepip, attr, None)
        if value:
            candidates.append(str(value))
    candidates.append('/usr/share/python-wheels')

    for directory in candidates:
        wheels = sorted(glob.glob(os.path.join(directory, 'pip-*.whl')))
        if wheels:
            return wheels[-1]

    raise SystemExit('get-pip-local: no bundled pip wheel found in %s' % ', '.join(candidates))


def run_pip(wheel: str, args: list[str]) -> int:
    """Run pip from the given wheel in a child process of this interpreter; return its exit code."""
    code = 'import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = "pip"; runpy.run_module("pip", run_name="__main__", alter_sys=True)'
    return subprocess.call([sys.executable, '-c', code, wheel] + args)


def main() -> None:
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_FLAGS]
    wheel = bundled_pip_wheel()

    print('get-pip-local: bootstrapping with %s: pip install %s' % (os.path.basename(wheel), ' '.join(args)), file=sys.stderr)

    rc = run_pip(wheel, ['install'] + args)

    if rc != 0:
        options = [arg for arg in args if arg.startswith('-')]
        print('get-pip-local: "pip install %s" failed (rc=%d); installing the bundled %s instead' % (' '.join(args), rc, os.path.basename(wheel)),
              file=sys.stderr)
        rc = run_pip(wheel, ['install'] + options + [wheel])

    sys.exit(rc)


if __name__ == '__main__':
    main()
