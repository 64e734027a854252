# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the generated /etc file kinds (hostname, hosts, resolver) share.

Each is one mapping per node (SINGLE), planned by its file engine in check mode (files/*.py: the
same code the single-file modules run), applied by the same engine for real, and undone from a
snapshot of the files' contents (and, for the host name, the kernel's names) taken while planning.
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
from typing import Any, Callable, Dict, List, Optional

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


def check_writable(section: str, path: str) -> None:
    """Before anything is touched: the file's directory exists and takes a new file (the write is a
    temporary file there renamed over the old one), so a bad path fails naming <section>.path."""
    d = os.path.dirname(os.path.realpath(path))
    field = v.sub(section, 'path')
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
    """The Kind of one file section. converge(params, files, check_mode, diff_mode, run) is the file
    engine's, `files` the section's paths ({option: path}, each option's default filled in from
    `defaults`): the files it may write (the snapshot)."""

    def __init__(self, section: str, converge: Callable[..., Record], defaults: Dict[str, str],
                 validate: Callable[[Record], Any]) -> None:
        self.section = section
        self.engine = converge
        self.defaults = defaults
        self.validate = validate

    def files(self, params: Record) -> Dict[str, str]:
        return dict((opt, params.get(opt) or default) for opt, default in self.defaults.items())

    def paths(self, params: Record) -> List[str]:
        return list(self.files(params).values())

    def converge(self, params: Record, **kw: Any) -> Record:
        return self.engine(params, self.files(params), **kw)

    def _call(self, params: Record, check_mode: bool, run: Any = None, diff_mode: bool = False) -> Record:
        try:
            return self.converge(dict(params), check_mode=check_mode, diff_mode=diff_mode, run=run)
        except NodenetError as e:
            raise type(e)(e.msg if check_mode else e.msg.replace(NOTHING, ''), v.sub(self.section, e.field or 'path'))

    def normalize(self, entry: Record, where: str = '') -> Record:
        if not isinstance(entry, dict):
            raise ValidationError('must be a mapping of options', self.section)
        params = dict((k, val) for k, val in entry.items() if val is not None and not k.startswith('_'))
        try:
            self.validate(params)
        except ValidationError as e:
            raise ValidationError(e.msg, v.sub(self.section, e.field or ''))
        return {'params': params}

    def key(self, rec: Record) -> str:
        return self.section

    def read(self, nl: Any, state: Any) -> Dict[str, Record]:
        """Nothing up front: the file engine reads the files while planning."""
        return {}

    def plan(self, records: List[Record], state: Any, ctx: Dict[str, Any]) -> List[Op]:
        out = []
        for rec in records:
            params = rec['params']
            r = self._call(params, True, ctx.get('run'), diff_mode=True)
            ctx.setdefault('warnings', []).extend(w for w in r.get('warnings', []) if w not in ctx.get('warnings', []))
            if not r['changed']:
                continue
            check_writable(self.section, r['path'])
            d = r.get('diff')
            out.append(op(self.section, 'modify', self.section, before={'snapshot': snapshot(self.section, self.paths(params))},
                          after={'params': params}, path=r['path'], diff=d if isinstance(d, list) else [d]))
        return out

    def apply(self, nl: Any, o: Op) -> None:
        if 'snapshot' in o['after']:
            errors = restore([o['after']['snapshot']])
            if errors:
                raise NodenetError('; '.join(errors))
            return
        self._call(o['after']['params'], False, getattr(nl, 'nodenet_run', None))

    def inverse(self, o: Op) -> Op:
        return op(self.section, 'modify', self.section, before=o['after'], after=o['before'], path=o.get('path'))

    def satisfied(self, o: Op, state: Any) -> Reason:
        if 'snapshot' in o['after']:
            snap = o['after']['snapshot']
            same = all(filecommon.read(p)[0] == text for p, text in snap['files'].items())
            return same, None if same else '%s files differ from what was restored' % self.section
        r = self._call(o['after']['params'], True)
        return not r['changed'], None if not r['changed'] else '%s %s does not read back as written' % (self.section, r['path'])

    def describe(self, o: Op) -> str:
        return 'write %s %s' % (self.section, o.get('path'))

    def diff(self, o: Op) -> Optional[List[Record]]:
        return o.get('diff')

    def bind(self, namespace: Dict[str, Any]) -> None:
        """Define the Kind names in a kind module's namespace: one mapping per node (SINGLE), named
        like its section, ranked after every netlink kind, no kernel feature of its own."""
        namespace.update(KIND=self.section, SECTION=self.section, RANK=RANK, LINK=False, SINGLE=True, FEATURE=None)
        namespace.setdefault('INFO', None)
        for name in ('normalize', 'key', 'read', 'plan', 'apply', 'inverse', 'satisfied', 'describe', 'diff'):
            namespace[name] = getattr(self, name)
