# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine on the node, outside Ansible: confirm-or-revert and persistence.

* Confirm-or-revert: after a change applied with a rollback timeout, the journal (the applied
  operations; the engine knows each one's inverse) and the files' previous contents are saved
  in RUN_DIR/pending-<node>.json (mode 0600, on tmpfs) and a watchdog is started that survives
  the Ansible connection: a transient systemd unit where systemd is PID 1 and the module runs in
  PID 1's network namespace, a double-forked, setsid'd process otherwise. Unless the change is
  confirmed (the pending file renamed to confirmed-<node>.json) before the deadline, it claims
  the file (renamed to reverting-<node>.json), replays the inverses and leaves
  reverted-<node>.json with what it did. The rename is the lock: confirm and revert can't both win.
* Persistence (persist.py): the declared state in a JSON file, a copy of the engine and an entry
  script, and a boot-time systemd unit whose command applies that state again with the same engine.

The watchdog and the boot unit run a copy of the engine package (the Ansible module's own copy
is deleted when the task ends): enginecopy.install_engine() writes the modules loaded in this process.
This file is the watchdog and the command line both run.

Run as a program (python -m ...nodenet.agent):
  watch PENDING_FILE         the watchdog
  apply STATE_FILE           apply a persisted state (the boot unit's command)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import sys
import tempfile
import time

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.cmd import systemd_pid1
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.enginecopy import PKG, install_engine
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError
# persistence lives in persist.py; its names stay reachable here for the engine's callers
# pylint: disable=unused-import
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.persist import (  # noqa: F401
    ENGINE_DIR, STATE_FILE, UNIT_FILE, apply_state, load_state, persist_apply, persist_files, persist_plan)
# pylint: enable=unused-import
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.persist import read_json as _read_json

RUN_DIR = os.environ.get('NODENET_RUN_DIR', '/run/nodenet')
POLL = 0.2
# how long arm() waits for the watchdog to record its pid: a Python start and the engine's imports, which
# took 15-40 s of CPU on an emulated node (the system tier); a change is rolled back when it does not start
START_TIMEOUT = 120


class AgentError(NodenetError):
    """The watchdog or the persisted state could not be set up."""


# ---------------------------------------------------------------- helpers
def node_id(netns=None):
    """Names the network namespace the change is for (device and inode of its nsfs file)."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import netns_path
    st = os.stat(netns_path(netns) if netns else '/proc/thread-self/ns/net')
    return '%x-%x' % (st.st_dev, st.st_ino)


def _path(kind, node, run_dir=None):
    return os.path.join(run_dir or RUN_DIR, '%s-%s.json' % (kind, node))


def _write_json(path, data, mode=0o600):
    d = os.path.dirname(path)
    if d and not os.path.isdir(d):
        os.makedirs(d, 0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.nodenet-', dir=d or '.')
    try:
        with os.fdopen(fd, 'w') as f:
            os.fchmod(f.fileno(), mode)
            json.dump(data, f, indent=1, sort_keys=True)
            f.write('\n')
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ', 1)[1][0] != 'Z'
    except (IOError, OSError, IndexError):
        return True


def _same_netns_as_pid1():
    try:
        return os.stat('/proc/1/ns/net').st_ino == os.stat('/proc/self/ns/net').st_ino
    except OSError:
        return False


# ---------------------------------------------------------------- confirm-or-revert
def pending(netns=None, run_dir=None):
    """The change waiting for confirmation on this node, or None. Includes 'watchdog_alive'."""
    node = node_id(netns)
    data = _read_json(_path('pending', node, run_dir))
    if data is None:
        return None
    data['watchdog_alive'] = _alive(data.get('watchdog_pid'))
    data['path'] = _path('pending', node, run_dir)
    return data


def check_no_pending(netns=None, run_dir=None):
    """Refuse a new change while an earlier one waits for confirmation (a revert would fight it)."""
    p = pending(netns, run_dir)
    if p is None:
        return
    if not p['watchdog_alive'] and time.time() > p['deadline'] + 30:
        raise AgentError("a change applied at %s was never confirmed and its watchdog (pid %s) is gone without reverting it; "
                         "see %s, then confirm it (confirm: true) to keep it" % (_ts(p['created']), p.get('watchdog_pid'), p['path']),
                         'rollback_timeout')
    raise AgentError("a change applied at %s is waiting for confirmation; its watchdog reverts it at %s. "
                     "Confirm it first (seed.nodenet.confirm, or network with confirm: true), or wait for the revert"
                     % (_ts(p['created']), _ts(p['deadline'])), 'confirm')


def _say(msg):
    """The watchdog's log line (its stdout is the log file)."""
    sys.stdout.write(msg + '\n')
    sys.stdout.flush()


def _ts(t):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))


def arm(journal, snapshots, timeout, netns=None, run_dir=None, python=None, run=None):
    """Save what undoing the change needs and start the watchdog. Returns a dict describing it.

    run(argv) -> (rc, out, err) runs systemd-run (the module's run_command); without it, or where
    systemd is not PID 1, the watchdog is a detached process."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.apply import journal_data
    journal = journal_data(journal)
    run_dir = run_dir or RUN_DIR
    node = node_id(netns)
    engine, dummy = install_engine(os.path.join(run_dir, 'engine'))
    now = time.time()
    data = {'node': node, 'netns': netns, 'created': now, 'deadline': now + timeout, 'timeout': timeout,
            'journal': journal, 'files': snapshots, 'watchdog_pid': None}
    path = _path('pending', node, run_dir)
    for stale in ('confirmed', 'reverted', 'reverting'):
        if os.path.exists(_path(stale, node, run_dir)):
            os.unlink(_path(stale, node, run_dir))
    _write_json(path, data)
    python = python or sys.executable
    argv = [python, '-m', PKG + '.agent', 'watch', path]
    env = dict(os.environ, PYTHONPATH=engine, PYTHONDONTWRITEBYTECODE='1')
    log = os.path.join(run_dir, 'watchdog-%s.log' % node)
    how = None
    try:
        if run is not None and systemd_pid1() and _same_netns_as_pid1() and shutil.which('systemd-run'):
            unit = 'nodenet-rollback-%s' % node
            rc, dummy, err = run(['systemd-run', '--unit', unit, '--collect', '--quiet', '--service-type=exec',
                                  '--setenv=PYTHONPATH=%s' % engine, '--setenv=PYTHONDONTWRITEBYTECODE=1'] + argv)
            if rc != 0:
                raise AgentError('systemd-run could not start the watchdog: %s' % err.strip(), 'rollback_timeout')
            how = 'systemd unit %s.service' % unit
            log = 'journalctl -u %s.service' % unit
        else:
            _spawn_detached(argv, env, log)
            how = 'detached process'
        # the watchdog records its pid when it runs: wait for it, so an armed change is really guarded
        t0 = time.time()
        while time.time() - t0 < START_TIMEOUT:
            cur = _read_json(path) or {}
            if cur.get('watchdog_pid'):
                return {'armed': True, 'deadline': _ts(data['deadline']), 'timeout': timeout, 'watchdog': how,
                        'watchdog_pid': cur['watchdog_pid'], 'pending_file': path}
            time.sleep(0.05)
        raise AgentError('the watchdog (%s) did not start within %d s; see %s' % (how, START_TIMEOUT, log), 'rollback_timeout')
    except Exception:
        # not armed: nobody may revert this later (the caller rolls the change back itself)
        if os.path.exists(path):
            os.unlink(path)
        raise


def _spawn_detached(argv, env, log):
    """Double fork + setsid: the watchdog is reparented to init and outlives the Ansible connection."""
    logfd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        pid = os.fork()
        if pid == 0:   # child
            try:
                os.setsid()
                if os.fork() != 0:
                    os._exit(0)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(logfd, 1)
                os.dup2(logfd, 2)
                os.closerange(3, 65536)
                os.chdir('/')
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        os.waitpid(pid, 0)
    finally:
        os.close(logfd)


def confirm(netns=None, run_dir=None, wait=None):
    """Confirm the pending change: the watchdog then exits without reverting. Holds the node lock,
    so a confirmation that arrives while the change is still being applied (the controller reached
    the new address before the watchdog was armed) waits for that run instead of finding nothing.

    Returns {'confirmed': bool, ...}; raises AgentError if the change was already reverted."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.lock import node_lock
    node = node_id(netns)
    with node_lock(netns, wait, 'seed.nodenet.confirm', pending_ok=True):
        src = _path('pending', node, run_dir)
        dst = _path('confirmed', node, run_dir)
        data = _read_json(src)
        try:
            os.rename(src, dst)
        except OSError:
            rev = _read_json(_path('reverted', node, run_dir)) or _read_json(_path('reverting', node, run_dir))
            if rev is not None:
                raise AgentError('too late: the change applied at %s was reverted by the watchdog at %s (%s)'
                                 % (_ts(rev['created']), _ts(rev.get('reverted_at', rev['deadline'])),
                                    'completely' if not rev.get('errors') else 'with errors: %s' % '; '.join(rev['errors'])),
                                 'confirm')
            return {'confirmed': False, 'msg': 'nothing to confirm: no change is waiting for confirmation on this node'}
        if data is not None:
            data['confirmed_at'] = time.time()
            _write_json(dst, data)
    return {'confirmed': True, 'applied_at': _ts(data['created']) if data else None,
            'msg': 'confirmed; the watchdog exits without reverting'}


def confirm_task(netns=None, check_mode=False, wait=None):
    """The confirm module's result: confirm the pending change (check mode: only say whether one waits)."""
    if check_mode:
        cur = pending(netns)
        return {'changed': cur is not None, 'confirmed': False,
                'msg': 'check mode: %s' % ('a change is waiting for confirmation' if cur else 'nothing to confirm')}
    r = confirm(netns, wait=wait)
    return dict(r, changed=r['confirmed'])


def watch(path):
    """The watchdog: revert at the deadline unless the pending file was renamed away (confirmed)."""
    data = _read_json(path)
    if data is None:
        _say('%s nothing to watch: %s is gone (the run that armed this watchdog gave up waiting for it and '
             'rolled its change back, or it was confirmed)' % (_ts(time.time()), path))
        return 0
    data['watchdog_pid'] = os.getpid()
    _write_json(path, data)
    node, run_dir = data['node'], os.path.dirname(path)
    global RUN_DIR
    RUN_DIR = run_dir   # this process's lock and files live where the pending file is
    while time.time() < data['deadline']:
        if not os.path.exists(path):
            _say('%s confirmed; exiting' % _ts(time.time()))
            return 0
        time.sleep(POLL)
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.lock import node_lock
    claimed = _path('reverting', node, run_dir)
    # the node lock: the run that armed this watchdog may still be finishing, a confirm may be under way
    with node_lock(data.get('netns'), -1, 'confirm-or-revert watchdog', pending_ok=True):
        try:
            os.rename(path, claimed)
        except OSError:
            _say('%s confirmed at the deadline; exiting' % _ts(time.time()))
            return 0
        _say('%s not confirmed within %s s: reverting %d operation(s) and %d file section(s)'
             % (_ts(time.time()), data['timeout'], len(data['journal']), len(data['files'])))
        errors = revert(data)
        data.update(reverted_at=time.time(), errors=errors)
        _write_json(_path('reverted', node, run_dir), data)
        os.unlink(claimed)
    _say('%s reverted%s' % (_ts(time.time()), ': ' + '; '.join(errors) if errors else ''))
    return 1 if errors else 0


def revert(data):
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.apply import rollback
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import open_netlink
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.etcfile import restore as restore_files
    errors = []
    if data['journal']:
        try:
            nl = open_netlink(data.get('netns'))
        except NodenetError as e:
            errors.append(str(e))
        else:
            try:
                errors.extend(rollback(nl, data['journal']))
            finally:
                nl.close()
    errors.extend(restore_files(data['files']))
    return errors


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2 or argv[0] not in ('watch', 'apply'):
        sys.stderr.write('usage: agent watch PENDING_FILE | agent apply STATE_FILE\n')
        return 2
    if argv[0] == 'watch':
        return watch(argv[1])
    try:
        result = apply_state(argv[1])
    except NodenetError as e:
        sys.stderr.write('nodenet: %s\n' % e)
        return 1
    _say(json.dumps(result, sort_keys=True))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
