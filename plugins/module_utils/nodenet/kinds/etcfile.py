# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the generated /etc file kinds (hostname, hosts, resolver) share.

Each is one mapping per node (SINGLE): the hosts, hostname and resolver modules' one entry, or the
network module's section. It is planned by its file engine in check mode (files/*.py), applied by the
same engine for real (with the module's `backup`), and undone from a snapshot of the files' contents
(and, for the host name, the kernel's names) taken while planning. Error fields are named as the user
typed them: `entries[0].ip` in the hosts module, `hosts.entries[0].ip` in the network module.
An operation is plain data, so the journal that the confirm-or-revert watchdog reads holds it:
  modify <section>: before {'snapshot': {'section', 'files': {path: text or None}, 'kernel'?}}
                    after  {'params': the section's options}
  its inverse:      after  {'snapshot': ...}  (apply writes the snapshot back)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import tempfile
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common as filecommon
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import hostname as hostname_file
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.base import Op, Reason, Record, op

RANK = 10           # after every netlink kind: the files name what the links and addresses now are
NOTHING = '; nothing was changed'


def snapshot(section: str, paths: List[str]) -> Record:
    """What undoing a file section needs: the files' contents (None: absent) and, for the host name,
    the kernel's names."""
    snap = {'section': section, 'files': dict((p, filecommon.read(p)[0]) for p in paths)}
    if section == 'hostname':
        snap['kernel'] = list(hostname_file.kernel())
    return snap


def restore(snaps: List[Record]) -> List[str]:
    """Put files (and the kernel's host name) back as snapshotted; returns error strings."""
    errors = []
    for snap in reversed(snaps):
        for path, text in snap['files'].items():
            try:
                cur = filecommon.read(path)[0]
                if cur == text:
                    continue
                if text is None:
                    os.unlink(path)
                else:
                    filecommon.write(filecommon.plan_file(path, text))
            except (NodenetError, OSError) as e:
                errors.append('restore %s: %s' % (path, e))
        if snap.get('kernel'):
            try:
                if list(hostname_file.kernel()) != list(snap['kernel']):
                    hostname_file._set_kernel(snap['kernel'][0], snap['kernel'][1])
            except (IOError, OSError) as e:
                errors.append('restore the kernel host name: %s' % e)
    return errors


def check_writable(where: str, path: str) -> None:
    """Before anything is touched: the file's directory exists and takes a new file (the write is a
    temporary file there renamed over the old one), so a bad path fails naming [<section>.]path."""
    d = os.path.dirname(os.path.realpath(path))
    field = v.sub(where, 'path')
    if not os.path.isdir(d):
        raise ValidationError("cannot write %s: the directory %s does not exist%s" % (path, d, NOTHING), field)
    try:
        fd, tmp = tempfile.mkstemp(prefix='.nodenet-probe-', dir=d)
    except (IOError, OSError) as e:
        why = 'the directory %s takes no new files (ENOENT)' % d if e.errno == errno.ENOENT else filecommon._why(e)
        raise ValidationError("cannot write %s: %s%s" % (path, why, NOTHING), field)
    os.close(fd)
    os.unlink(tmp)


class FileKind(object):
    """The Kind of one file section. converge(params, files, check_mode, diff_mode, run, backup) is the file
    engine's, `files` the section's paths ({option: path}, each option's default filled in from
    `defaults`): the files it may write (the snapshot). `returns`: the engine's result fields the
    single module returns (its RETURN)."""

    def __init__(self, section: str, converge: Callable[..., Record], defaults: Dict[str, str],
                 validate: Callable[[Record], Any], returns: Tuple[str, ...]) -> None:
        self.section = section
        self.engine = converge
        self.defaults = defaults
        self.validate = validate
        self.returns = returns

    def files(self, params: Record) -> Dict[str, str]:
        return dict((opt, params.get(opt) or default) for opt, default in self.defaults.items())

    def paths(self, params: Record) -> List[str]:
        return list(self.files(params).values())

    def _call(self, params: Record, check_mode: bool, where: str, run: Any = None, diff_mode: bool = False,
              backup: Any = None) -> Record:
        try:
            return self.engine(dict(params), self.files(params), check_mode=check_mode, diff_mode=diff_mode, run=run, backup=backup)
        except NodenetError as e:
            raise type(e)(e.msg if check_mode else e.msg.replace(NOTHING, ''), v.sub(where, e.field or 'path'))

    def normalize(self, entry: Record, where: str = '') -> Record:
        if not isinstance(entry, dict):
            raise ValidationError('must be a mapping of options', where or self.section)
        params = dict((k, val) for k, val in entry.items() if val is not None and not k.startswith('_'))
        try:
            self.validate(params)
        except ValidationError as e:
            raise ValidationError(e.msg, v.sub(where, e.field or ''))
        return {'params': params}

    def key(self, rec: Record) -> str:
        return self.section

    def read(self, nl: Any, state: Any) -> Dict[str, Record]:
        """Nothing up front: the file engine reads the files while planning."""
        return {}

    def plan(self, records: List[Record], state: Any, ctx: Dict[str, Any]) -> List[Op]:
        out = []
        for rec in records:
            params, where = rec['params'], rec.get('_where', '')
            r = self._call(params, True, where, ctx.get('run'), diff_mode=True)
            ctx.setdefault('file_checks', {})[self.section] = r    # report() shows it when nothing is written
            ctx.setdefault('warnings', []).extend(w for w in r.get('warnings', []) if w not in ctx.get('warnings', []))
            if not r['changed']:
                continue
            check_writable(where, r['path'])
            out.append(op(self.section, 'modify', self.section, before={'snapshot': snapshot(self.section, self.paths(params))},
                          after={'params': params}, path=r['path'], where=where, diff=r.get('diff')))
        return out

    def apply(self, nl: Any, o: Op) -> None:
        if 'snapshot' in o['after']:
            errors = restore([o['after']['snapshot']])
            if errors:
                raise NodenetError('; '.join(errors))
            return
        r = self._call(o['after']['params'], False, o.get('where', ''), getattr(nl, 'nodenet_run', None),
                       backup=getattr(nl, 'nodenet_backup', None))
        # what the write did (the backup's name, a warning, the reload command), for report()
        o['outcome'] = dict((k, val) for k, val in r.items() if k != 'diff')

    def inverse(self, o: Op) -> Op:
        return op(self.section, 'modify', self.section, before=o['after'], after=o['before'], path=o.get('path'), where=o.get('where'))

    def satisfied(self, o: Op, state: Any) -> Reason:
        if 'snapshot' in o['after']:
            snap = o['after']['snapshot']
            same = all(filecommon.read(p)[0] == text for p, text in snap['files'].items())
            return same, None if same else '%s files differ from what was restored' % self.section
        r = self._call(o['after']['params'], True, o.get('where', ''))
        return not r['changed'], None if not r['changed'] else '%s %s does not read back as written' % (self.section, r['path'])

    def describe(self, o: Op) -> str:
        return 'write %s %s' % (self.section, o.get('path'))

    def diff(self, o: Op) -> Optional[List[Record]]:
        d = o.get('diff')
        return d if isinstance(d, list) or d is None else [d]

    def report(self, rec: Record, ops: List[Op], ctx: Dict[str, Any]) -> Record:
        """The single module's return value: what the engine's write said (after a change), or what its
        check-mode pass while planning said of the file (check mode, nothing to change; the file engine
        runs again only for a caller that did not plan through plan()); backup_file only when a backup
        was made."""
        done = [o for o in ops if o.get('outcome')]
        r = done[0]['outcome'] if done else (ctx.get('file_checks') or {}).get(self.section)
        if r is None:
            r = self._call(rec['params'], True, rec.get('_where', ''), ctx.get('run'), diff_mode=bool(ctx.get('diff_mode')))
        out = dict((k, r[k]) for k in self.returns + ('warnings',) if k in r)
        if ctx.get('diff_mode'):
            # the diff as this file's engine shapes it (one file: one before/after; the host name: two)
            out['diff'] = done[0]['diff'] if done else (ops[0]['diff'] if ops else r.get('diff'))
        if out.get('backup_file') is None:
            out.pop('backup_file', None)
        return out

    def bind(self, namespace: Dict[str, Any]) -> None:
        """Define the Kind names in a kind module's namespace: one mapping per node (SINGLE), named
        like its section, ranked after every netlink kind, no kernel feature of its own."""
        namespace.update(KIND=self.section, SECTION=self.section, RANK=RANK, LINK=False, SINGLE=True, FEATURE=None)
        namespace.setdefault('INFO', None)
        for name in ('normalize', 'key', 'read', 'plan', 'apply', 'inverse', 'satisfied', 'describe', 'diff', 'report'):
            namespace[name] = getattr(self, name)
