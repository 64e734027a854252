# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel parameters (sysctls), like Talos's `machine.sysctls`, and their /etc/sysctl.d/ file.

One entry is a set of settings ({key: value}, a preset, or both). Each key becomes one object,
`net.ipv4.ip_forward`, whose value is compared as the kernel shows it in /proc/sys (whitespace
runs count as one separator: `32768 60999` equals the kernel's `32768<TAB>60999`; booleans are 1/0).

Namespaces: /proc/sys/net/ is per network namespace; everything else (kernel.*, vm.*, fs.*) is
the whole machine's. With `netns` set, a key outside net.* is refused before anything is touched
(writing it from inside the namespace would change the host); without `netns`, any key may be set.
A key that does not exist in that namespace, or is read-only there (net.netfilter.nf_conntrack_max
outside the machine's own namespace), fails naming it.

`persist` also writes the entry's settings to a file (default /etc/sysctl.d/90-nodenet.conf),
which systemd-sysctl / `sysctl --system` applies at boot to the machine's own namespace. The file is
one more object of this kind (`file /etc/sysctl.d/...`), planned, diffed and rolled back with the rest.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import in_netns
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v

KIND = 'sysctl'
SECTION = 'sysctls'
RANK = -0.5            # after link removals, before the links are made: forwarding and rp_filter are in place when addresses and routes arrive
LINK = False
FEATURE = None
INFO = 'sysctls'
PROC = '/proc/sys/'
PERSIST_FILE = '/etc/sysctl.d/90-nodenet.conf'
HEADER = '# Managed by seed.nodenet (sysctl): edits are replaced on the next run.\n'
KEY_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.:@+-]*(/[A-Za-z0-9_.:@+-]+)*$')

OPTIONS = dict(
    settings=dict(type='dict', default={}),
    preset=dict(type='str', choices=['kubernetes']),
    persist=dict(type='bool', default=False),
    persist_file=dict(type='path', default=PERSIST_FILE),
)

# The kubernetes preset: (key, value, when). when: 'always'; 'if_present' (the key exists only when
# a kernel module is loaded: br_netfilter, nf_conntrack); 'host' (not per namespace: skipped with netns).
KUBERNETES = (
    ('net.ipv4.ip_forward', '1', 'always'),
    ('net.ipv6.conf.all.forwarding', '1', 'always'),
    ('net.bridge.bridge-nf-call-iptables', '1', 'if_present'),
    ('net.bridge.bridge-nf-call-ip6tables', '1', 'if_present'),
    ('net.netfilter.nf_conntrack_tcp_timeout_established', '86400', 'if_present'),
    ('net.netfilter.nf_conntrack_tcp_timeout_close_wait', '3600', 'if_present'),
    ('net.netfilter.nf_conntrack_max', 'conntrack_max', 'host'),   # raised to it, never lowered
)
PRESETS = {'kubernetes': KUBERNETES}

# What network_info shows (those that exist in the namespace), besides nothing else: /proc/sys/net
# holds thousands of keys, most of them per link.
WATCHED = ('net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding', 'net.ipv4.conf.all.rp_filter',
           'net.ipv4.conf.default.rp_filter', 'net.ipv6.conf.all.disable_ipv6', 'net.ipv4.ip_local_port_range',
           'net.core.somaxconn', 'net.core.rmem_max', 'net.core.wmem_max', 'net.bridge.bridge-nf-call-iptables',
           'net.bridge.bridge-nf-call-ip6tables', 'net.netfilter.nf_conntrack_max',
           'net.netfilter.nf_conntrack_tcp_timeout_established')

_op = base.maker(KIND)


def conntrack_max():
    """kube-proxy's default: 32768 entries per CPU, at least 131072."""
    return str(max(131072, 32768 * (os.cpu_count() or 1)))


def path_of(key):
    """net.ipv4.ip_forward -> net/ipv4/ip_forward; a key written with '/' is taken as it is (for
    names with dots in them: net/ipv4/conf/eth0.100/rp_filter)."""
    return key if '/' in key else key.replace('.', '/')


def name_of(path):
    """The dotted name users read, unless a part has a dot of its own."""
    parts = path.split('/')
    return path if any('.' in p for p in parts) else '.'.join(parts)


def value_text(value, field):
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, (list, tuple)):
        value = ' '.join(str(x) for x in value)
    if isinstance(value, dict) or value is None:
        raise ValidationError("must be a number or a string (the value as 'sysctl' shows it)", field)
    text = ' '.join(str(value).split())
    if not text:
        raise ValidationError("must not be empty", field)
    return text


def normalize(entry, where=''):
    f = v.fields(entry, OPTIONS, where)

    settings = entry.get('settings') or {}
    if not isinstance(settings, dict):
        raise ValidationError("must be a mapping of sysctl name to value", f('settings'))
    rec = {'settings': {}, 'optional': {}, 'persist': bool(entry.get('persist'))}
    preset = entry.get('preset')
    if preset is not None:
        v.choice(preset, f('preset'), sorted(PRESETS))
        rec['preset'] = preset
        for key, value, when in PRESETS[preset]:
            rec['settings'][key] = conntrack_max() if value == 'conntrack_max' else value
            if when != 'always':
                rec['optional'][key] = when
    for key, value in settings.items():
        field = '%s.%s' % (f('settings'), key)
        key = str(key).strip()
        if not KEY_RE.match(key) or '..' in key or '//' in key:
            raise ValidationError("is not a sysctl name: use dots (net.ipv4.ip_forward) or slashes "
                                  "(net/ipv4/conf/eth0.100/rp_filter)", field)
        key = name_of(path_of(key))
        rec['settings'][key] = value_text(value, field)
        rec['optional'].pop(key, None)
    if not rec['settings']:
        raise ValidationError("give settings (a mapping of sysctl name to value) or a preset", f('settings'))
    if rec['persist']:
        path = entry.get('persist_file') or PERSIST_FILE
        if not os.path.isabs(path) or not path.endswith('.conf'):
            raise ValidationError("must be an absolute path ending in .conf (systemd-sysctl reads only those)",
                                  f('persist_file'))
        rec['persist_file'] = os.path.normpath(path)
    return rec


def key(rec):
    """A record here is one object: {'key': name} or {'file': path}; an entry's key is its first setting."""
    if 'file' in rec:
        return 'file ' + rec['file']
    if 'key' in rec:
        return rec['key']
    return sorted(rec['settings'])[0]


class Observed(dict):
    """The sysctls of one namespace, read from /proc/sys on demand (there are thousands; a plan needs
    a few). Values: {'key', 'value', 'writable'}; a missing key reads as None. Files too ('file <path>')."""

    def __init__(self, netns):
        dict.__init__(self)
        self.netns = netns

    def get(self, k, default=None):
        if not dict.__contains__(self, k):
            dict.__setitem__(self, k, self._read(k))
        val = dict.__getitem__(self, k)
        return default if val is None else val

    def __contains__(self, k):
        return self.get(k) is not None

    def _read(self, k):
        if k.startswith('file '):
            path = k[5:]
            try:
                with open(path) as fh:
                    return {'file': path, 'content': fh.read()}
            except (IOError, OSError):
                return None
        return in_netns(self.netns, lambda: read_key(k))


def read_key(k):
    path = PROC + path_of(k)
    try:
        with open(path) as fh:
            text = fh.read()
    except (IOError, OSError):
        return None
    return {'key': k, 'value': ' '.join(text.split()), 'writable': bool(os.stat(path).st_mode & 0o222)}


def read(nl, state=None):
    return Observed(getattr(nl, 'nodenet_netns', None))


def info_records(state, keys=WATCHED):
    """network_info's `sysctls`: {name: value} of the watched keys that exist in the namespace."""
    obs = state.get(KIND)
    out = {}
    for k in keys:
        rec = obs.get(k)
        if rec is not None:
            out[k] = rec['value']
    return out


def _at_least(have, want):
    """A preset's table size (nf_conntrack_max) is a floor, as kube-proxy treats it: a larger one stays."""
    return have.isdigit() and want.isdigit() and int(have) >= int(want)


def file_text(settings):
    return HEADER + ''.join('%s = %s\n' % (k, settings[k]) for k in sorted(settings))


def plan(records, state, ctx):
    observed = state.get(KIND)
    netns = getattr(getattr(state, 'nl', None), 'nodenet_netns', None)
    ops, seen, files = [], {}, {}
    for i, rec in enumerate(records):
        where = rec.get('_where', '')
        for k in sorted(rec['settings']):
            want = rec['settings'][k]
            field = '%s.%s' % (v.sub(where, 'settings'), k)
            if k in seen and seen[k] != want:
                raise ValidationError("is set twice, to '%s' and '%s'" % (seen[k], want), field)
            seen[k] = want
            when = rec['optional'].get(k)
            if netns and not path_of(k).startswith('net/'):
                if when == 'host':
                    ctx.setdefault('warnings', []).append(
                        "sysctl %s (preset %s) is the whole machine's, not per network namespace: left alone in "
                        "namespace '%s'" % (k, rec.get('preset'), netns))
                    continue
                raise ValidationError("is not per network namespace (only net.* is): setting it inside namespace '%s' "
                                      "would change the whole machine; set it in a task without netns" % netns, field)
            obs = observed.get(k)
            if when == 'host' and netns:
                ctx.setdefault('warnings', []).append(
                    "sysctl %s (preset %s) can be set only in the machine's own network namespace: left alone in "
                    "'%s'" % (k, rec.get('preset'), netns))
                continue
            if obs is None:
                if when == 'if_present':
                    continue
                place = " in namespace '%s'" % netns if netns else ''
                raise ValidationError("no such kernel parameter%s (no %s%s); check the name, or load the kernel "
                                      "module that provides it" % (place, PROC, path_of(k)), field)
            if obs['value'] == want or (when == 'host' and _at_least(obs['value'], want)):
                if rec['persist']:
                    files.setdefault(rec['persist_file'], {})[k] = want
                continue
            if not obs['writable']:
                if when is not None:
                    continue
                raise ValidationError("is read-only here%s (the kernel shows %s)" % (
                    " (namespace '%s')" % netns if netns else '', obs['value']), field)
            ops.append(_op('modify', k, before={'key': k, 'value': obs['value']}, after={'key': k, 'value': want}))
            if rec['persist']:
                files.setdefault(rec['persist_file'], {})[k] = want
    for path in sorted(files):
        k = 'file ' + path
        obs = observed.get(k)
        text = file_text(files[path])
        if obs is None:
            ops.append(_op('create', k, after={'file': path, 'content': text}))
        elif obs['content'] != text:
            ops.append(_op('modify', k, before=obs, after={'file': path, 'content': text}))
    return ops


def _write_file(path, content):
    if content is None:
        os.unlink(path)
        return
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        os.makedirs(d, 0o755)
    tmp = '%s.nodenet.tmp' % path
    with open(tmp, 'w') as fh:
        fh.write(content)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def apply(nl, op):
    what = "%s sysctl %s" % (op['action'], op['key'])
    try:
        if op['key'].startswith('file '):
            _write_file(op['key'][5:], (op['after'] or {}).get('content'))
            return
        value = op['after']['value']
        path = PROC + path_of(op['key'])

        def write():
            with open(path, 'w') as fh:
                fh.write(value)
        in_netns(getattr(nl, 'nodenet_netns', None), write)
    except Exception as e:  # noqa: BLE001
        raise explain(e, what)


inverse = base.swap


def satisfied(op, state):
    obs = state.get(KIND).get(op['key'])
    after = op['after']
    if after is None:
        return (obs is None), None if obs is None else "%s is still present" % op['key']
    if obs is None:
        return False, "%s is missing" % op['key']
    if 'file' in after:
        return obs['content'] == after['content'], None if obs['content'] == after['content'] else "%s differs" % op['key']
    if obs['value'] == after['value']:
        return True, None
    return False, "sysctl %s is %s after writing %s (the kernel changed or refused the value)" % (
        op['key'], obs['value'], after['value'])


def result(rec, observed):
    """What the sysctl module returns: every setting of its entry as the kernel shows it now
    (null for an optional preset key that does not exist here)."""
    out = {}
    for k in sorted(rec['settings']):
        obs = observed.get(k)
        out[k] = obs['value'] if obs else None
    return out
