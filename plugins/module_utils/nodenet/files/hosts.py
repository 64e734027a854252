# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""/etc/hosts: static host entries (Talos StaticHostConfig) in a managed block, or the whole file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common

HOSTS = '/etc/hosts'
BEGIN = '# BEGIN seed.nodenet managed'
END = '# END seed.nodenet managed'
LOCAL_NAMES = ('localhost', 'localhost.localdomain', 'localhost4', 'localhost4.localdomain4', 'localhost6',
               'localhost6.localdomain6', 'ip6-localhost', 'ip6-loopback')


def normalize(entries):
    """[{ip, aliases}] -> [(ip, [aliases])], entries with the same IP merged in order."""
    if not isinstance(entries, list):
        raise ValidationError('must be a list of mappings with ip and aliases', 'entries')
    merged = []
    by_ip = {}
    for i, entry in enumerate(entries):
        where = 'entries[%d]' % i
        if not isinstance(entry, dict):
            raise ValidationError('must be a mapping with ip and aliases', where)
        v.reject_unknown(entry, ('ip', 'aliases'), where)
        if entry.get('ip') is None:
            raise ValidationError('an IP address is required', where + '.ip')
        addr = str(v.ip(entry['ip'], where + '.ip'))
        aliases = entry.get('aliases')
        if not aliases or not isinstance(aliases, list):
            raise ValidationError('a list of at least one host name is required', where + '.aliases')
        names = [common.dns_name(str(a).rstrip('.'), '%s.aliases[%d]' % (where, j)) for j, a in enumerate(aliases)]
        if addr not in by_ip:
            by_ip[addr] = []
            merged.append((addr, by_ip[addr]))
        for n in names:
            if n not in by_ip[addr]:
                by_ip[addr].append(n)
    return merged


def render_block(entries):
    if not entries:
        return ''
    return '\n'.join([BEGIN] + ['%s %s' % (ip, ' '.join(names)) for ip, names in entries] + [END]) + '\n'


def split_block(text):
    """(lines before the block, block lines or None, lines after)."""
    lines = (text or '').splitlines()
    try:
        b = lines.index(BEGIN)
        e = lines.index(END, b)
    except ValueError:
        return lines, None, []
    return lines[:b], lines[b + 1:e], lines[e + 1:]


def _keep(line, own):
    """In exclusive mode: localhost lines and lines naming this node are kept."""
    words = line.split('#', 1)[0].split()
    if len(words) < 2:
        return False
    try:
        if ipaddress.ip_address(words[0]).is_loopback:
            return True
    except ValueError:
        return False
    return any(n in LOCAL_NAMES or n in own for n in words[1:])


def merge(text, entries, exclusive=False, hostname=None):
    """The new file content: `text` with the managed block set to `entries`."""
    before, _block, after = split_block(text)
    block = render_block(entries)
    if exclusive:
        own = set()
        if hostname:
            own = {hostname, hostname.split('.', 1)[0]}
        kept = [ln for ln in before + after if _keep(ln, own)]
        head = '\n'.join(kept) + '\n' if kept else ''
        return head + block
    if _block is None and not block:
        return text  # nothing managed and nothing to remove: the file stays as it is
    if _block is None and block and before and before[-1].strip():
        before = before + ['']  # a blank line before a new block
    if _block is not None and not block and not after and len(before) > 1 and not before[-1].strip():
        before = before[:-1]  # a block removed from the end takes its blank line along: the file is as it was
    head = '\n'.join(before) + '\n' if before else ''
    tail = '\n'.join(after) + '\n' if after else ''
    return head + block + tail


def converge(params, path=HOSTS, hostname=None, check_mode=False, diff_mode=False, backup=None):
    entries = normalize(params.get('entries') or [])
    exclusive = bool(params.get('exclusive'))
    if hostname is None:
        hostname = socket.gethostname()
    before, st = common.read(path, 'path')
    fplan = common.plan_file(path, merge(before, entries, exclusive, hostname), 'path', before, st, True)
    result = {'changed': fplan['changed'], 'path': path, 'backup_file': None, 'warnings': [],
              'entries': [{'ip': ip, 'aliases': names} for ip, names in entries]}
    if diff_mode:
        result['diff'] = common.diff(fplan)
    if fplan['changed'] and not check_mode:
        result['backup_file'], result['warnings'] = common.write(fplan, backup)
    return result
