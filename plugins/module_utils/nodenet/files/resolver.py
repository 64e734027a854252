# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""resolv.conf (or a systemd-resolved drop-in) generated from the declared resolvers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import shutil

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common

RESOLV_CONF = '/etc/resolv.conf'
DROPIN = '/etc/systemd/resolved.conf.d/50-nodenet.conf'
RESOLVED_DIR = '/run/systemd/resolve'
HEADER = '# Managed by seed.nodenet.resolver; local changes are overwritten.\n'
GLIBC_MAX_NAMESERVERS = 3

# resolv.conf(5) options: those taking a number (with its range) and the bare words.
VALUE_OPTIONS = {'ndots': (0, 15), 'timeout': (1, 30), 'attempts': (1, 5)}
FLAG_OPTIONS = ('rotate', 'edns0', 'single-request', 'single-request-reopen', 'trust-ad', 'use-vc',
                'no-tld-query', 'no-check-names', 'inet6', 'no-aaaa', 'no-reload', 'debug',
                'ip6-bytestring', 'ip6-dotint', 'no-ip6-dotint')


def normalize(params):
    """Validate; return {nameservers, search_domains, options} with only the fields given (None = not managed)."""
    out = {}
    ns = params.get('nameservers')
    if ns is not None:
        out['nameservers'] = [str(v.ip(n, 'nameservers[%d]' % i)) for i, n in enumerate(ns)]
    sd = params.get('search_domains')
    if sd is not None:
        out['search_domains'] = [common.dns_name(str(d).lower().rstrip('.'), 'search_domains[%d]' % i)
                                 for i, d in enumerate(sd)]
    opts = params.get('options')
    if opts is not None:
        if not isinstance(opts, dict):
            raise ValidationError('must be a mapping of option names to values, e.g. ndots: 2', 'options')
        norm = {}
        for key, val in opts.items():
            name = str(key).replace('_', '-')
            field = 'options.%s' % key
            if name in VALUE_OPTIONS:
                lo, hi = VALUE_OPTIONS[name]
                norm[name] = v.integer(val, field, lo, hi)
            elif name in FLAG_OPTIONS:
                if not isinstance(val, bool):
                    raise ValidationError("'%s' is a flag: use true or false" % (val,), field)
                if val:
                    norm[name] = True
            else:
                raise ValidationError("unknown resolver option '%s'; allowed: %s" % (
                    key, ', '.join(sorted(list(VALUE_OPTIONS) + list(FLAG_OPTIONS)))), field)
        out['options'] = norm
    return out


# ---------------------------------------------------------------- resolv.conf
def parse(text):
    """resolv.conf text -> {nameservers, search_domains, options, other}; 'other' keeps unknown lines."""
    conf = {'nameservers': [], 'search_domains': [], 'options': {}, 'other': []}
    for line in (text or '').splitlines():
        words = line.split('#', 1)[0].split(';', 1)[0].split()
        if not words:
            continue
        key, args = words[0], words[1:]
        if key == 'nameserver' and args:
            conf['nameservers'].append(args[0])
        elif key in ('search', 'domain'):
            conf['search_domains'] = list(args)  # the last of search/domain wins
        elif key == 'options':
            for arg in args:
                name, sep, val = arg.partition(':')
                if sep and val.isdigit():
                    conf['options'][name] = int(val)
                else:
                    conf['options'][name] = True
        else:
            conf['other'].append(line.strip())
    return conf


def render(conf):
    lines = [HEADER.rstrip('\n')]
    lines += ['nameserver %s' % n for n in conf['nameservers']]
    if conf['search_domains']:
        lines.append('search %s' % ' '.join(conf['search_domains']))
    opts = conf['options']
    if opts:
        words = []
        for name in sorted(opts, key=_option_order):
            val = opts[name]
            words.append(name if val is True else '%s:%s' % (name, val))
        lines.append('options %s' % ' '.join(words))
    lines += conf.get('other', [])
    return '\n'.join(lines) + '\n'


def _option_order(name):
    order = list(VALUE_OPTIONS) + list(FLAG_OPTIONS)
    return (order.index(name) if name in order else len(order), name)


# ---------------------------------------------------------------- systemd-resolved drop-in
def parse_dropin(text):
    conf = {'nameservers': [], 'search_domains': []}
    for line in (text or '').splitlines():
        key, sep, val = line.strip().partition('=')
        if not sep or line.lstrip().startswith(('#', ';')):
            continue
        if key.strip() == 'DNS':
            conf['nameservers'] = val.split()
        elif key.strip() == 'Domains':
            conf['search_domains'] = val.split()
    return conf


def render_dropin(conf):
    lines = [HEADER.rstrip('\n'), '[Resolve]']
    lines.append('DNS=%s' % ' '.join(conf['nameservers']))
    lines.append('Domains=%s' % ' '.join(conf['search_domains']))
    return '\n'.join(lines) + '\n'


def manager(path, resolved_dir=RESOLVED_DIR):
    """'systemd-resolved' when path is a symlink to resolved's stub-resolv.conf or resolv.conf, else 'file'."""
    if os.path.islink(path):
        real = os.path.realpath(path)
        for name in ('stub-resolv.conf', 'resolv.conf'):
            if real == os.path.realpath(os.path.join(resolved_dir, name)):
                return 'systemd-resolved'
    return 'file'


# ---------------------------------------------------------------- other writers
def _running(names):
    found = set()
    for comm in glob.glob('/proc/[0-9]*/comm'):
        try:
            with open(comm) as f:
                name = f.read().strip()
        except (IOError, OSError):
            continue
        if name in names:
            found.add(name)
    return found


def detect_writers(root='/'):
    """Other programs that (re)write resolv.conf: [{name, evidence}]. Processes are only looked at when root is '/'."""
    def p(rel):
        return os.path.join(root, rel.lstrip('/'))

    writers = []
    procs = _running(('NetworkManager', 'dhclient', 'dhcpcd')) if root == '/' else set()
    nm_conf = [p('/etc/NetworkManager/NetworkManager.conf')] + sorted(glob.glob(p('/etc/NetworkManager/conf.d/*.conf')))
    nm_unmanaged = False
    for conf in nm_conf:
        text, _st = common.read(conf)
        flat = (text or '').replace(' ', '')
        if 'dns=none' in flat or 'rc-manager=unmanaged' in flat:
            nm_unmanaged = True
    if not nm_unmanaged:
        if 'NetworkManager' in procs:
            writers.append({'name': 'NetworkManager', 'evidence': 'NetworkManager is running without dns=none'})
        elif os.path.exists(p('/etc/NetworkManager/NetworkManager.conf')):
            writers.append({'name': 'NetworkManager', 'evidence': '%s exists without dns=none' % p('/etc/NetworkManager/NetworkManager.conf')})
    for hook in ('/sbin/dhclient-script', '/usr/sbin/dhclient-script', '/etc/dhcp/dhclient-enter-hooks.d'):
        if os.path.exists(p(hook)) or ('dhclient' in procs and hook == '/sbin/dhclient-script'):
            writers.append({'name': 'dhclient', 'evidence': 'dhclient is running' if 'dhclient' in procs else '%s exists' % p(hook)})
            break
    for hook in ('/lib/dhcpcd/dhcpcd-hooks/20-resolv.conf', '/usr/lib/dhcpcd/dhcpcd-hooks/20-resolv.conf',
                 '/usr/libexec/dhcpcd-hooks/20-resolv.conf'):
        if os.path.exists(p(hook)):
            writers.append({'name': 'dhcpcd', 'evidence': '%s exists' % p(hook)})
            break
    for exe in ('/sbin/resolvconf', '/usr/sbin/resolvconf'):
        # systemd's resolvconf is a link to resolvectl: that is not the resolvconf package.
        if os.path.exists(p(exe)) and 'resolvectl' not in os.path.realpath(p(exe)):
            writers.append({'name': 'resolvconf', 'evidence': '%s exists (resolvconf package)' % p(exe)})
            break
    return writers


# ---------------------------------------------------------------- the pipeline
def plan(desired, path=RESOLV_CONF, dropin=DROPIN, resolved_dir=RESOLVED_DIR):
    """(manager, file plan). `desired` comes from normalize()."""
    mgr = manager(path, resolved_dir)
    if mgr == 'systemd-resolved':
        before, st = common.read(dropin, 'dropin_path')
        conf = parse_dropin(before)
        conf.update((k, val) for k, val in desired.items() if k != 'options')
        return mgr, common.plan_file(dropin, render_dropin(conf), 'dropin_path', before, st, True)
    before, st = common.read(path, 'path')
    conf = parse(before)
    conf.update(desired)
    return mgr, common.plan_file(path, render(conf), 'path', before, st, True)


def reload_resolved(run):
    """Ask systemd-resolved to re-read its configuration; returns the command used or None.

    `run(argv)` -> (rc, stdout, stderr) runs a command (the module's run_command).
    """
    for cmd in (['resolvectl', 'reload'], ['systemctl', 'try-reload-or-restart', 'systemd-resolved']):
        if shutil.which(cmd[0]) and run(cmd)[0] == 0:
            return ' '.join(cmd)
    return None


def converge(params, path=RESOLV_CONF, dropin=DROPIN, resolved_dir=RESOLVED_DIR, check_mode=False,
             diff_mode=False, backup=None, writers_root=None, run=None):
    """Validate, plan, and (unless check mode) write. Returns a result dict; raises NodenetError."""
    desired = normalize(params)
    mgr, fplan = plan(desired, path, dropin, resolved_dir)
    warnings = []
    n = desired.get('nameservers') or []
    if len(n) > GLIBC_MAX_NAMESERVERS:
        warnings.append('%d nameservers given: glibc uses only the first %d (%s)'
                        % (len(n), GLIBC_MAX_NAMESERVERS, ', '.join(n[:GLIBC_MAX_NAMESERVERS])))
    if mgr == 'systemd-resolved' and desired.get('options'):
        warnings.append('%s is managed by systemd-resolved, whose stub file has its own options; '
                        'options are not applied' % path)
    if writers_root is None and path == RESOLV_CONF:
        writers_root = '/'
    writers = detect_writers(writers_root) if writers_root is not None else []
    if writers:
        warnings.append('other programs may rewrite %s: %s' % (
            path, '; '.join('%s (%s)' % (w['name'], w['evidence']) for w in writers)))
    result = {'changed': fplan['changed'], 'manager': mgr, 'path': fplan['path'], 'writers': writers,
              'warnings': warnings, 'backup_file': None, 'reloaded': None}
    if diff_mode:
        result['diff'] = common.diff(fplan)
    if fplan['changed'] and not check_mode:
        if mgr == 'systemd-resolved':
            ddir = os.path.dirname(dropin)
            if not os.path.isdir(ddir):
                try:
                    os.makedirs(ddir, 0o755)
                except OSError as e:
                    raise common.FileError('cannot create %s: %s' % (ddir, e.strerror), 'dropin_path')
        result['backup_file'], more = common.write(fplan, backup)
        warnings.extend(more)
        if mgr == 'systemd-resolved' and os.path.realpath(resolved_dir) == RESOLVED_DIR and run is not None:
            result['reloaded'] = reload_resolved(run)
            if result['reloaded'] is None:
                warnings.append('systemd-resolved could not be reloaded (resolvectl reload, systemctl '
                                'try-reload-or-restart systemd-resolved); %s is read at its next start' % dropin)
    result['resolver'] = status(path, resolved_dir)
    return result


def status(path=RESOLV_CONF, resolved_dir=RESOLVED_DIR):
    """ResolverStatus: what the resolv.conf at `path` says (for resolved: the upstream servers it lists)."""
    mgr = manager(path, resolved_dir)
    src = path
    if mgr == 'systemd-resolved' and os.path.exists(os.path.join(resolved_dir, 'resolv.conf')):
        src = os.path.join(resolved_dir, 'resolv.conf')
    text, _st = common.read(src)
    conf = parse(text)
    return {'nameservers': conf['nameservers'], 'search_domains': conf['search_domains'],
            'options': conf['options'], 'manager': mgr, 'path': path}
