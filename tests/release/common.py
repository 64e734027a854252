"""Shared helpers of the release tier: the project's tools, a built tarball, scratch dirs."""
import glob
import os
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(ROOT, '.venv', 'bin')


def env(**extra):
    e = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
             ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'), ANSIBLE_LOCALHOST_WARNING='false',
             ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1', NO_COLOR='1',
             PATH=VENV + os.pathsep + os.environ['PATH'])
    e.update(extra)
    return e


def run(cmd, cwd=None, timeout=600, **envs):
    """Run a tool of the project's .venv; returns the CompletedProcess (stdout and stderr joined)."""
    if not os.path.isabs(cmd[0]) and os.path.exists(os.path.join(VENV, cmd[0])):
        cmd = [os.path.join(VENV, cmd[0])] + list(cmd[1:])
    return subprocess.run(cmd, cwd=cwd or ROOT, env=env(**envs), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout, check=False)


def build_tarball(dest):
    """ansible-galaxy collection build of this checkout into dest; the tarball's path."""
    p = run(['ansible-galaxy', 'collection', 'build', '--force', '--output-path', dest, ROOT])
    assert p.returncode == 0, p.stdout
    (tarball,) = glob.glob(os.path.join(dest, 'seed-nodenet-*.tar.gz'))
    return tarball


def scratch(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=os.path.join(ROOT, '.build'))
