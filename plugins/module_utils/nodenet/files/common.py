# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files generated from state: read, plan (before/after), diff, back up, write atomically."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re
import tempfile

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError, ValidationError

_LABEL = re.compile(r'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$')


class FileError(NodenetError):
    """A file could not be read or written; nothing was left half-written."""


def dns_name(value, field):
    """An RFC 1123 host or domain name: dot-separated labels of 1-63 [a-z0-9-], no '-' at either end, <= 253."""
    if not isinstance(value, str) or not value:
        raise ValidationError("a host name is required (labels of a-z, 0-9 and '-')", field)
    if len(value) > 253:
        raise ValidationError("'%s' is longer than 253 characters" % value, field)
    for label in value.split('.'):
        if not label:
            raise ValidationError("'%s' has an empty label (leading, trailing or double dot)" % value, field)
        if len(label) > 63:
            raise ValidationError("'%s': label '%s' is longer than 63 characters" % (value, label), field)
        if not _LABEL.match(label):
            raise ValidationError("'%s': label '%s' is invalid: use only lowercase a-z, 0-9 and '-', "
                                  "not starting or ending with '-' (RFC 1123)" % (value, label), field)
    return value


def _why(exc):
    code = getattr(exc, 'errno', None)
    name = errno.errorcode.get(code, 'error') if code else 'error'
    if code == errno.EROFS:
        return 'read-only file system (%s)' % name
    if code in (errno.EACCES, errno.EPERM):
        return 'permission denied (%s); root is needed, or the file is immutable' % name
    if code == errno.ENOENT:
        return 'the directory does not exist (%s)' % name
    return '%s (%s)' % (exc.strerror or exc, name)


def read(path, field='path'):
    """(text or None when missing, os.stat_result or None)."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
            st = os.fstat(f.fileno())
    except (IOError, OSError) as e:
        if e.errno == errno.ENOENT:
            return None, None
        raise FileError('cannot read %s: %s' % (path, _why(e)), field)
    try:
        return data.decode('utf-8'), st
    except UnicodeDecodeError:
        raise FileError('%s is not UTF-8 text' % path, field)


def plan_file(path, after, field='path', before=None, st=None, read_done=False):
    """What writing `after` to `path` would do: a dict used by diff() and write()."""
    if not read_done:
        before, st = read(path, field)
    return {'path': path, 'field': field, 'before': before, 'after': after, 'stat': st,
            'changed': before != after}


def diff(fplan):
    """Ansible's before/after diff form; the callback renders it as a unified diff."""
    before = fplan['before']
    return {'before_header': fplan['path'] + ('' if before is not None else ' (absent)'),
            'after_header': fplan['path'],
            'before': before or '', 'after': fplan['after'] or ''}


def write(fplan, backup=None, mode=0o644):
    """Write the planned content atomically (temp file in the same directory + rename).

    Keeps the file's mode and owner. Before the rename the file is re-read: if another
    writer changed it since it was planned, nothing is written and FileError says so.
    `backup(path)` is called just before the rename when the file exists; it returns the
    backup's name. A symlink is followed: its target is replaced and the link kept.
    Returns (backup file or None, warnings).
    """
    path, field, warnings = fplan['path'], fplan['field'], []
    target = os.path.realpath(path)
    dirname = os.path.dirname(target)
    st = fplan['stat']
    try:
        fd, tmp = tempfile.mkstemp(prefix='.%s.nodenet-' % os.path.basename(target), dir=dirname)
    except (IOError, OSError) as e:
        raise FileError('cannot write %s: %s; nothing was changed' % (path, _why(e)), field)
    backup_file = None
    try:
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(fplan['after'].encode('utf-8'))
                f.flush()
                if st is not None:
                    os.fchmod(f.fileno(), st.st_mode & 0o7777)
                    os.fchown(f.fileno(), st.st_uid, st.st_gid)
                else:
                    os.fchmod(f.fileno(), mode)
                os.fsync(f.fileno())
            now, now_st = read(path, field)
            if now != fplan['before'] or (now_st is not None and st is not None and now_st.st_mtime_ns != st.st_mtime_ns):
                raise FileError('%s was changed by another writer after it was read; nothing was written. '
                                'Run again (and see which other program manages this file)' % path, field)
            if backup is not None and now is not None:
                backup_file = backup(path)
            try:
                os.rename(tmp, target)
            except (IOError, OSError) as e:
                if e.errno not in (errno.EBUSY, errno.EXDEV):
                    raise
                # The file itself is a mount point (a bind-mounted /etc/resolv.conf, as containers have):
                # it can't be replaced, only rewritten in place.
                _in_place(target, fplan['after'])
                warnings.append('%s is a mount point (bind mount) and could not be replaced atomically; '
                                'it was rewritten in place' % path)
        except (IOError, OSError) as e:
            raise FileError('cannot write %s: %s; nothing was changed' % (path, _why(e)), field)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return backup_file, warnings


def _in_place(target, text):
    with open(target, 'r+b') as f:
        f.write(text.encode('utf-8'))
        f.truncate()
        f.flush()
        os.fsync(f.fileno())
