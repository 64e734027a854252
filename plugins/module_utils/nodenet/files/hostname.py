# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node's hostname: kernel (UTS namespace) host and domain name, and the hostname file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import socket

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.cmd import systemd_pid1
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common

HOSTNAME_FILE = '/etc/hostname'
PROC = '/proc/sys/kernel/'
HOST_NAME_MAX = 64


def normalize(name, field='hostname'):
    """'node1.example.com' -> ('node1', 'example.com'); 'node1' -> ('node1', None)."""
    if name is None or name == '':
        raise ValidationError('a host name is required', field)
    name = str(name)
    if name != name.lower():
        raise ValidationError("'%s' has uppercase letters; host names are lowercase (RFC 1123)" % name, field)
    common.dns_name(name, field)
    short, _sep, domain = name.partition('.')
    if len(short) >= HOST_NAME_MAX:
        raise ValidationError("'%s' is longer than the kernel allows (%d)" % (short, HOST_NAME_MAX - 1), field)
    return short, domain or None


def _proc(name):
    with open(PROC + name) as f:
        return f.read().strip()


def kernel():
    """(hostname, domainname or None) of this UTS namespace."""
    domain = _proc('domainname')
    return socket.gethostname(), (None if domain in ('', '(none)') else domain)


def status():
    """HostnameStatus: hostname (short), domainname, fqdn."""
    host, domain = kernel()
    if '.' in host and not domain:
        host, domain = host.split('.', 1)
    return {'hostname': host, 'domainname': domain, 'fqdn': '%s.%s' % (host, domain) if domain else host}


def _set_kernel(host, domain):
    socket.sethostname(host)
    with open(PROC + 'domainname', 'w') as f:
        f.write((domain or '') + '\n')  # a bare newline clears it


def converge(params, path=HOSTNAME_FILE, check_mode=False, diff_mode=False, backup=None, run=None):
    """Validate, compare, and (unless check mode) set the kernel's names and the file.

    `run(argv)` -> (rc, stdout, stderr) runs hostnamectl (the module's run_command); without it the file is written.
    """
    name = params.get('hostname')
    short, domain = normalize(name)
    fqdn = name
    cur_host, cur_domain = kernel()
    kernel_changes = []
    if cur_host != short:
        kernel_changes.append('hostname')
    if cur_domain != domain:
        kernel_changes.append('domainname')
    before, st = common.read(path, 'path')
    fplan = common.plan_file(path, fqdn + '\n', 'path', before, st, True)
    use_hostnamectl = (run is not None and path == HOSTNAME_FILE and systemd_pid1() and shutil.which('hostnamectl') is not None)
    result = {'changed': bool(kernel_changes) or fplan['changed'], 'path': path, 'backup_file': None,
              'warnings': [], 'kernel_changes': kernel_changes, 'method': 'hostnamectl' if use_hostnamectl else 'file'}
    if diff_mode:
        result['diff'] = [common.diff(fplan), {
            'before_header': 'kernel (UTS namespace)', 'after_header': 'kernel (UTS namespace)',
            'before': 'hostname: %s\ndomainname: %s\n' % (cur_host, cur_domain or '(none)'),
            'after': 'hostname: %s\ndomainname: %s\n' % (short, domain or '(none)')}]
    if check_mode or not result['changed']:
        result['hostname'] = status()
        return result
    if fplan['changed']:
        if use_hostnamectl:
            if backup is not None and before is not None:
                result['backup_file'] = backup(path)
            rc, _out, err = run(['hostnamectl', 'set-hostname', '--static', fqdn])
            if rc != 0:
                raise common.FileError('hostnamectl set-hostname --static %s failed: %s' % (fqdn, err.strip()), 'path')
        else:
            result['backup_file'], result['warnings'] = common.write(fplan, backup)
    if kernel_changes:
        try:
            _set_kernel(short, domain)
        except (IOError, OSError) as e:
            # put the file back so the node is as it was
            if fplan['changed'] and not use_hostnamectl:
                if before is None:
                    os.unlink(path)
                else:
                    common.write(common.plan_file(path, before, 'path'))
            raise common.FileError('cannot set the kernel host name: %s; nothing was changed' % (e.strerror or e), 'hostname')
    result['hostname'] = status()
    return result
