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
* Persistence: the declared state in a JSON file, a copy of the engine and an entry script,
  and a boot-time systemd unit whose command applies that state again with the same engine.

The watchdog and the boot unit run a copy of the engine package (the Ansible module's own copy
is deleted when the task ends): install_engine() writes the modules loaded in this process.

Run as a program (python -m ...nodenet.agent):
  watch PENDING_FILE         the watchdog
  apply STATE_FILE           apply a persisted state (the boot unit's command)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError, ValidationError

PKG = 'ansible_collections.seed.nodenet.plugins.module_utils.nodenet'
RUN_DIR = os.environ.get('NODENET_RUN_DIR', '/run/nodenet')
STATE_FILE = '/etc/nodenet/state.json'
UNIT_FILE = '/etc/systemd/system/nodenet.service'
ENGINE_DIR = '/usr/local/lib/seed-nodenet'
POLL = 0.2
START_TIMEOUT = 10


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


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (IOError, OSError):
        return None


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


def systemd_pid1():
    try:
        with open('/proc/1/comm') as f:
            return f.read().strip() == 'systemd'
    except (IOError, OSError):
        return False


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


def watch(path):
    """The watchdog: revert at the deadline unless the pending file was renamed away (confirmed)."""
    data = _read_json(path)
    if data is None:
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
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.network import restore_files
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


# ---------------------------------------------------------------- persistence
UNIT_TEMPLATE = """# Written by seed.nodenet.network (persist: true); remove with persist: false.
[Unit]
Description=seed.nodenet: apply the declared node network (%(state)s)
DefaultDependencies=no
After=local-fs.target systemd-modules-load.service systemd-udev-settle.service%(devices)s
Before=network-pre.target
Wants=network-pre.target%(devices)s

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=%(command)s

[Install]
WantedBy=multi-user.target
"""

ENTRY_TEMPLATE = """#!%(python)s
# seed.nodenet: apply a persisted node network with the engine copy next to this script.
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.agent import main
sys.exit(main(sys.argv[1:] or ['apply', %(state)r]))
"""


def _device_unit(ifname):
    """systemd's device unit for a network interface (systemd-escape --path /sys/subsystem/net/devices/<name>)."""
    out = []
    for i, ch in enumerate(ifname):
        if ch.isascii() and (ch.isalnum() or ch in ':_' or (ch == '.' and i > 0)):
            out.append(ch)
        else:
            out.append('\\x%02x' % ord(ch))
    return 'sys-subsystem-net-devices-%s.device' % ''.join(out)


def boot_devices(spec, netns):
    """The device units the boot unit waits for: the NICs the state configures but does not create (udev
    names and announces them while the unit may already run). None in a namespace (no udev there)."""
    if netns:
        return []
    return sorted(set(_device_unit(link['name']) for link in spec.get('links') or () if link.get('name') and not link.get('kind')))


def persist_files(spec, netns, purge, state_file, unit_file, engine_dir, python=None):
    """{path: content} of the persisted state, the entry script and the unit."""
    entry = os.path.join(engine_dir, 'nodenet-apply')
    state = {'version': 1, 'netns': netns, 'purge': sorted(purge), 'spec': spec}
    return {
        state_file: json.dumps(state, indent=1, sort_keys=True) + '\n',
        entry: ENTRY_TEMPLATE % {'python': python or sys.executable, 'state': state_file},
        unit_file: UNIT_TEMPLATE % {'state': state_file, 'command': '%s apply %s' % (entry, state_file),
                                    'devices': ''.join(' ' + d for d in boot_devices(spec, netns))},
    }


def _wants_link(unit_file):
    return os.path.join(os.path.dirname(unit_file), 'multi-user.target.wants', os.path.basename(unit_file))


def persist_plan(enabled, spec, netns, purge, state_file, unit_file, engine_dir, python=None):
    """[(path, before, after)] for what differs; after None = remove."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common
    if enabled:
        wanted = persist_files(spec, netns, purge, state_file, unit_file, engine_dir, python)
    else:
        wanted = dict((p, None) for p in persist_files({}, netns, purge, state_file, unit_file, engine_dir, python))
    out = []
    for path, after in sorted(wanted.items()):
        before = common.read(path)[0]
        if before != after:
            out.append((path, before, after))
    link = _wants_link(unit_file)
    if enabled and os.path.realpath(link) != os.path.realpath(unit_file):
        out.append((link, None, unit_file))
    if not enabled and os.path.lexists(link):
        out.append((link, unit_file, None))
    if not enabled and os.path.isdir(engine_dir):
        out.append((engine_dir, 'engine', None))
    return out


def persist_apply(enabled, changes, unit_file, engine_dir, run=None):
    """Write/remove what persist_plan() listed; install or remove the engine copy; reload systemd."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common
    link = _wants_link(unit_file)
    if enabled:
        install_engine(engine_dir)
    for path, dummy, after in changes:
        if path == link:
            continue
        if path == engine_dir and after is None:
            shutil.rmtree(engine_dir, ignore_errors=True)
            continue
        if after is None:
            if os.path.lexists(path):
                os.unlink(path)
            continue
        d = os.path.dirname(path)
        if not os.path.isdir(d):
            os.makedirs(d, 0o755, exist_ok=True)
        mode = 0o755 if path.endswith('nodenet-apply') else (0o600 if path.endswith('.json') else 0o644)
        common.write(common.plan_file(path, after), mode=mode)
        os.chmod(path, mode)
    if enabled and os.path.realpath(link) != os.path.realpath(unit_file):
        if not os.path.isdir(os.path.dirname(link)):
            os.makedirs(os.path.dirname(link), 0o755, exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(unit_file, link)
    if not enabled and os.path.lexists(link):
        os.unlink(link)
    if run is not None and systemd_pid1() and unit_file == UNIT_FILE:
        run(['systemctl', 'daemon-reload'])


def load_state(path):
    data = _read_json(path)
    if data is None:
        raise ValidationError('cannot read the persisted state %s' % path, 'persist_path')
    if data.get('version') != 1:
        raise ValidationError('%s has an unknown format version %r' % (path, data.get('version')), 'persist_path')
    return data


def apply_state(path):
    """The boot unit's command: apply the persisted state with the same engine. Returns a result dict."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.network import converge
    data = load_state(path)
    result = converge(data['spec'], netns=data.get('netns'), purge=data.get('purge') or (), task='nodenet boot unit (%s)' % path)
    result.pop('_journal', None)
    return result


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
