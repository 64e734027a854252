# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node lock: one change at a time per node (per network namespace).

Every run that changes the node (the `network` module, each single-kind module, the boot unit,
confirm and the confirm-or-revert watchdog) holds it from observe to verify. It is an flock(2)
on RUN_DIR/lock-<node>: the kernel releases it when its holder exits, however it exits, so a
killed run never leaves a stale lock. The holder writes who it is into the file (pid, process,
task, since when) for the message a waiting run gives when it stops waiting.

A change waiting for confirmation holds the node too: while its pending file exists (and its
watchdog lives), a new run waits exactly as for a running one, then fails naming the watchdog.
Check mode and network_info read without the lock; they warn when someone holds it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import fcntl
import json
import os
import time

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import agent
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import check_netns

DEFAULT_TIMEOUT = 120
POLL = 0.05


class NodeLocked(NodenetError):
    """Another run held the node for longer than this run was willing to wait."""


def lock_path(netns=None):
    return os.path.join(agent.RUN_DIR, 'lock-%s' % agent.node_id(netns))


def _process(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            argv = f.read().split(b'\0')
    except (IOError, OSError):
        return None
    text = ' '.join(a.decode('utf-8', 'replace') for a in argv if a)
    return text if len(text) <= 160 else text[:157] + '...'


def _ago(t):
    return '%s (%d s ago)' % (agent._ts(t), max(0, int(time.time() - t)))


def holder(netns=None):
    """Who holds the node lock now: {'pid', 'process', 'task', 'since'}, or None when it is free."""
    check_netns(netns)
    path = lock_path(netns)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except (IOError, OSError):
            pass
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        try:
            return json.loads(os.read(fd, 65536).decode('utf-8') or 'null') or {}
        except ValueError:
            return {}   # it has the lock and has not written its name yet
    finally:
        os.close(fd)


def describe(info):
    if not info:
        return 'another run (it has not recorded its name yet)'
    return 'pid %s (%s%s) since %s' % (info.get('pid'), info.get('task') or 'a run',
                                       ': %s' % info['process'] if info.get('process') else '', _ago(info.get('since', 0)))


def busy_warning(netns=None):
    """For runs that read without the lock: a sentence when someone holds it (or a change waits), else None."""
    try:
        info = holder(netns)
        p = agent.pending(netns)
    except (NodenetError, OSError):
        return None
    if info is not None:
        return ('read without the node lock, which %s holds: it is changing this node, so what this run reports '
                'may be out of date when it ends' % describe(info))
    if p is not None:
        return 'a change applied at %s is waiting for confirmation; a real run would wait for it' % agent._ts(p['created'])
    return None


def _pending_block(netns):
    """None, or (message, field, final) for a change that waits for confirmation."""
    p = agent.pending(netns)
    if p is None:
        return None
    if not p['watchdog_alive'] and time.time() > p['deadline'] + 30:
        return ("a change applied at %s was never confirmed and its watchdog (pid %s) is gone without reverting it; "
                "see %s, then confirm it (confirm: true) to keep it" % (agent._ts(p['created']), p.get('watchdog_pid'), p['path']),
                'rollback_timeout', True)
    return ("a change applied at %s is waiting for confirmation; its watchdog (pid %s) holds the node and reverts it at %s. "
            "Confirm it first (seed.nodenet.confirm, or network with confirm: true), or wait for the revert"
            % (agent._ts(p['created']), p.get('watchdog_pid'), agent._ts(p['deadline'])), 'confirm', False)


@contextlib.contextmanager
def node_lock(netns=None, timeout=None, task=None, pending_ok=False):
    """Hold the node lock for the body. Waits up to `timeout` seconds (None: DEFAULT_TIMEOUT,
    -1: forever), then raises NodeLocked naming the holder.

    pending_ok: the caller is confirm or the watchdog itself, which a pending change must not block."""
    check_netns(netns)
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    path = lock_path(netns)
    try:
        if not os.path.isdir(agent.RUN_DIR):
            os.makedirs(agent.RUN_DIR, 0o755, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        # not root (a file module writing a file of the user's own): no run of root's can be waited for
        yield {'pid': os.getpid(), 'task': task, 'since': time.time(),
               'unlocked': 'ran without the node lock: %s is not writable (%s)' % (agent.RUN_DIR, e.strerror)}
        return
    t0 = time.time()
    waited_for = None
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except (IOError, OSError) as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                blocked = ('the node lock is held by %s' % describe(holder(netns)), 'lock_timeout', False)
            else:
                if not _is_current(fd, path):
                    # the holder before us removed this file when it was done: lock the one at `path` now
                    os.close(fd)
                    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                    continue
                blocked = None if pending_ok else _pending_block(netns)
                if blocked is None:
                    break
                fcntl.flock(fd, fcntl.LOCK_UN)
            msg, field, final = blocked
            waited_for = msg
            if final:
                raise NodenetError(msg, field)
            if 0 <= timeout <= time.time() - t0:
                raise NodeLocked('%s; waited %d s for it (lock_timeout %s s), nothing was changed'
                                 % (msg, int(time.time() - t0), timeout), field)
            time.sleep(POLL)
        info = {'pid': os.getpid(), 'process': _process(os.getpid()), 'task': task, 'since': time.time()}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(info, sort_keys=True).encode('utf-8'))
        if waited_for:
            info.update(waited=info['since'] - t0, waited_for=waited_for)
        try:
            yield info
        finally:
            os.unlink(path)   # still locked: a waiter that opened it sees that it is gone and opens the next one
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _is_current(fd, path):
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except OSError:
        return False


def call(func, netns=None, check_mode=False, timeout=None, task=None):
    """func() -> result dict, under the node lock; in check mode without it, with a warning in
    result['warnings'] when another run holds it (what check mode reads may be changing)."""
    if not check_mode:
        with node_lock(netns, timeout, task) as info:
            result = func()
        if info.get('waited_for'):
            result.setdefault('warnings', []).append('waited %.1f s for the node lock (%s)' % (info['waited'], info['waited_for']))
        if info.get('unlocked'):
            result.setdefault('warnings', []).append(info['unlocked'])
        return result
    result = func()
    busy = busy_warning(netns)
    if busy:
        result.setdefault('warnings', []).append(busy)
    return result
