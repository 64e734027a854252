# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DHCP on a link (Talos's DHCPv4/DHCPv6 operators): a real client, dhcpcd, run per link.

A link entry's options `dhcp4`, `dhcp6` and `dhcp_options: {route_metric, use_dns}` become one
record of this kind (link.normalize derives it; it has no section of its own). The client is
dhcpcd (Debian package dhcpcd-base), one daemon per link, started in the link's network namespace
with its own private mount namespace in which our per-link directories are bind-mounted over
dhcpcd's fixed /run/dhcpcd and /var/lib/dhcpcd: its pid file, control socket and leases never meet
another namespace's client for a link of the same name. dhcpcd daemonizes itself, so it outlives
the module and renews its lease on its own; a run that finds it gone starts it again. `dhcp4: false`
(and `dhcp6: false`) stops it: dhcpcd then removes what it configured.

Where things are: RUN_DIR/dhcp/<node>/<link>/ holds config.json (what the client was started with),
dhcpcd.conf, run/ (dhcpcd's /run/dhcpcd: pid file, control socket) and db/ (its leases).

What the lease gave (its address, routes and DNS servers) is what dhcpcd hands its hook script (the
documented interface for programs that consume leases: `new_*` variables, see dhcpcd-run-hooks(8));
ours saves them in leaseN.env beside config.json and, with use_dns, runs Debian's own hooks for
resolv.conf. They become this kind's status records (network_info `dhcp`);
the addresses and routes the client added are marked in network_info `addresses`/`routes` with
`operator: dhcp4|dhcp6` (Talos keeps each operator's addresses in its own layer). Neither counts as
a change on the next run: the address section manages only the addresses it declares, and purge
leaves the client's addresses and routes alone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shlex
import shutil
import signal
import subprocess
import time

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import KernelError, MissingReference, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import in_netns

KIND = 'dhcp'
SECTION = None          # set through the options of a link entry (LINK_OPTIONS)
RANK = 1.2              # after the links and the static addresses, before routes
LINK = False
FEATURE = None
INFO = 'dhcp'
DEFAULT_METRIC = 1024   # Talos's default route metric for DHCP routes
LINK_OPTIONS = dict(
    dhcp4=dict(type='bool'),
    dhcp6=dict(type='bool'),
    dhcp_options=dict(type='dict', options=dict(route_metric=dict(type='int'), use_dns=dict(type='bool'))),
)
OPTIONS = dict(LINK_OPTIONS, link=dict(type='str', required=True))
MANAGED = ('dhcp4', 'dhcp6', 'route_metric', 'use_dns')
DHCPCD = 'dhcpcd'
HOOKS_DIR = '/usr/lib/dhcpcd/dhcpcd-hooks'
RUN_HOOKS = '/usr/lib/dhcpcd/dhcpcd-run-hooks'
RUN_MOUNT, DB_MOUNT = '/run/dhcpcd', '/var/lib/dhcpcd'
STOP_TIMEOUT = 20
_op = base.maker(KIND)


def _run_dir():
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import agent
    return os.path.join(agent.RUN_DIR, 'dhcp')


# ---------------------------------------------------------------- validate
def derive(entry, where):
    """The DHCP entry of a link entry (its dhcp options), or None when it sets none."""
    if all(entry.get(k) is None for k in LINK_OPTIONS):
        return None
    return dict((k, entry[k]) for k in LINK_OPTIONS if entry.get(k) is not None)


def normalize(entry, where=''):
    link = entry.pop('_link', None)
    f = v.fields(entry, OPTIONS, where)

    opts = entry.get('dhcp_options') or {}
    if not isinstance(opts, dict):
        raise ValidationError("must be a mapping with route_metric and use_dns", f('dhcp_options'))
    v.reject_unknown(opts, LINK_OPTIONS['dhcp_options']['options'], f('dhcp_options'))
    rec = {'dhcp4': bool(entry.get('dhcp4')), 'dhcp6': bool(entry.get('dhcp6')),
           'route_metric': v.integer(DEFAULT_METRIC if opts.get('route_metric') is None else opts['route_metric'],
                                     f('dhcp_options.route_metric'), 0, 0xFFFFFFFF),
           'use_dns': bool(opts.get('use_dns'))}
    if opts and not (rec['dhcp4'] or rec['dhcp6']):
        raise ValidationError("applies only with dhcp4: true or dhcp6: true", f('dhcp_options'))
    rec['_link'] = link if link is not None else {'name': v.ifname(entry.get('link'), f('link'))}
    rec['_field'] = f('dhcp4' if entry.get('dhcp4') is not None else 'dhcp6')
    return rec


def key(rec):
    return rec['link'] if 'link' in rec else rec['_link']['name']


# ---------------------------------------------------------------- observe
def _node_dir(nl):
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import agent
    return os.path.join(_run_dir(), agent.node_id(getattr(nl, 'nodenet_netns', None)))


def _pid(d):
    """The pid of the client whose pid file is in d/run, if that process is a dhcpcd."""
    run = os.path.join(d, 'run')
    try:
        names = sorted(n for n in os.listdir(run) if n.endswith('.pid'))
    except OSError:
        return None
    for n in names:
        try:
            with open(os.path.join(run, n)) as fh:
                pid = int(fh.read().split()[0])
            with open('/proc/%d/cmdline' % pid, 'rb') as fh:
                if b'dhcpcd' in fh.read().split(b'\x00')[0]:
                    return pid
        except (OSError, ValueError, IndexError):
            continue
    return None


def read(nl, state):
    """DhcpStatus records keyed by link: the client's settings, whether it runs, and its leases."""
    top = _node_dir(nl)
    out = {}
    try:
        names = sorted(os.listdir(top))
    except OSError:
        return out
    for name in names:
        d = os.path.join(top, name)
        try:
            with open(os.path.join(d, 'config.json')) as fh:
                cfg = json.load(fh)
        except (OSError, ValueError):
            continue
        pid = _pid(d)
        rec = dict((k, cfg.get(k)) for k in MANAGED)
        rec.update(link=name, client='dhcpcd', running=pid is not None, pid=pid)
        for fam in ('4', '6'):
            if rec['dhcp' + fam]:
                rec['lease' + fam] = _lease(d, fam) if pid else None
        out[name] = rec
    return out


def _lease(d, fam):
    """What the client holds ('4' or '6'), as its hook saved it."""
    try:
        with open(os.path.join(d, 'lease%s.env' % fam)) as fh:
            return lease_fields(fh.read(), fam)
    except (OSError, IOError):
        return None


def lease_fields(text, fam):
    """The lease as a record, from dhcpcd's `name=value` dump (values shell-quoted)."""
    env = {}
    for line in text.splitlines():
        k, sep, val = line.partition('=')
        if sep:
            try:
                words = shlex.split(val)
            except ValueError:
                words = [val]
            k = k.strip()
            env[k[4:] if k.startswith('new_') else k] = ' '.join(words)
    if fam == '4':
        if not env.get('ip_address'):
            return None
        plen = env.get('subnet_cidr')
        return {'address': '%s/%s' % (env['ip_address'], plen or 32),
                'gateways': env.get('routers', '').split(),
                'dns_servers': env.get('domain_name_servers', '').split(),
                'search_domains': (env.get('domain_search') or env.get('domain_name') or '').split(),
                'server': env.get('dhcp_server_identifier') or None,
                'lease_time': int(env['dhcp_lease_time']) if env.get('dhcp_lease_time', '').isdigit() else None}
    addrs = sorted(val for k, val in env.items() if k.startswith('dhcp6_ia_na') and '_ia_addr' in k and not k.endswith(('_vltime', '_pltime')))
    if not addrs and not env.get('dhcp6_name_servers'):
        return None
    return {'addresses': addrs, 'dns_servers': env.get('dhcp6_name_servers', '').split(),
            'search_domains': env.get('dhcp6_domain_search', '').split(),
            'server': env.get('dhcp6_server_id') or None}


def operator_of(state, link, family):
    """'dhcp4'/'dhcp6' when a running client on `link` serves `family` ('inet4'/'inet6'), else None."""
    rec = state.get(KIND).get(link) if 'dhcp' in getattr(state, 'readers', {'dhcp': 1}) else None
    fam = '4' if family == 'inet4' else '6'
    if rec and rec.get('running') and rec.get('dhcp' + fam):
        return 'dhcp' + fam
    return None


def mark(state, addresses, routes):
    """network_info: mark the addresses (with a lifetime: leased) and the routes (protocol dhcp)
    that a running client on their link configured."""
    if not state.get(KIND):
        return
    for a in addresses or ():
        op = operator_of(state, a['link'], a['family'])
        if op and a.get('valid_lft') is not None:
            a['operator'] = op
    for r in routes or ():
        op = operator_of(state, r.get('link'), r['family'])
        if op and r.get('protocol') == 'dhcp':
            r['operator'] = op


# ---------------------------------------------------------------- plan
def _bond_of(link, state, ctx):
    """The bond (or bridge) `link` is, or becomes, a port of."""
    for master, deps in ctx.get('link_deps', {}).items():
        if link in deps and ctx.get('link_kind', {}).get(master) in ('bond', 'bridge'):
            return master
    obs = state.links().get(link) or {}
    m = obs.get('master')
    if m and (state.links().get(m) or {}).get('kind') in ('bond', 'bridge'):
        return m
    return None


def plan(records, state, ctx):
    if not records:
        return []
    observed = state.get(KIND)
    present = ctx.get('link_present', set(state.links()))
    ops = []
    for rec in records:
        name = key(rec)
        rec['link'] = name
        want = rec['dhcp4'] or rec['dhcp6']
        obs = observed.get(name)
        if want:
            if name not in present:
                raise MissingReference("link '%s' does not exist and is not declared" % name, rec['_field'])
            netns = getattr(getattr(state, 'nl', None), 'nodenet_netns', None)
            if rec['use_dns'] and netns:
                base = rec['_field'].rsplit('.', 1)[0] + '.' if '.' in rec['_field'] else ''
                raise ValidationError("use_dns lets the DHCP client write /etc/resolv.conf, which a network namespace "
                                      "does not scope: with netns '%s' that would be this machine's own file. Run the "
                                      "task inside the node (its own mount namespace, as the netns connection does), or "
                                      "give the resolvers with the resolver section" % netns,
                                      base + 'dhcp_options.use_dns')
            port_of = _bond_of(name, state, ctx)
            if port_of:
                raise ValidationError("link '%s' is a port of '%s': a port has no address of its own; set DHCP on '%s' "
                                      "instead" % (name, port_of, port_of), rec['_field'])
        after = _clean(rec) if want else None
        if obs is None or not obs.get('running'):
            if want:
                ops.append(_op('create', name, after=after))
            elif obs is not None:   # a stopped client's leftovers
                ops.append(_op('delete', name, before=_clean(obs)))
        elif not want:
            ops.append(_op('delete', name, before=_clean(obs)))
        elif any(obs.get(k) != after[k] for k in MANAGED):
            ops.append(_op('modify', name, before=_clean(obs), after=after))
    return ops


def _clean(rec):
    out = dict((k, rec.get(k)) for k in MANAGED)
    out['link'] = rec['link']
    return out


# ---------------------------------------------------------------- apply
def _conf(rec):
    lines = ['# written by seed.nodenet for link %s' % rec['link'], 'metric %d' % rec['route_metric'],
             'option domain_name_servers, domain_name, domain_search', 'option rapid_commit',
             'require dhcp_server_identifier',
             'noipv4ll']   # no 169.254/16 address of its own while no server answers (Talos has none either)
    if rec['use_dns']:
        try:
            hooks = sorted(os.listdir(HOOKS_DIR))
        except OSError:
            hooks = []
        lines.extend('nohook %s' % h for h in hooks if 'resolv.conf' not in h)
    return '\n'.join(lines) + '\n'


HOOK = """#!/bin/sh
# written by seed.nodenet: dhcpcd runs this on every event (dhcpcd-run-hooks(8)); it keeps what the
# lease gave for network_info, and with use_dns hands over to Debian's hooks (resolv.conf only).
dir=%(dir)s
case "$protocol" in dhcp) fam=4 ;; dhcp6) fam=6 ;; *) fam= ;; esac
if [ -n "$fam" ]; then
  case "$reason" in
    BOUND|RENEW|REBIND|REBOOT|INFORM|BOUND6|RENEW6|REBIND6|REBOOT6|INFORM6)
      env | grep -E '^new_' > "$dir/lease$fam.tmp" && mv -f "$dir/lease$fam.tmp" "$dir/lease$fam.env" ;;
    EXPIRE|EXPIRE6|RELEASE|RELEASE6|STOP|STOP6|NOCARRIER|FAIL|TIMEOUT|DEPARTED)
      rm -f "$dir/lease$fam.env" ;;
  esac
fi
%(next)s
"""


def start(nl, rec):
    d = os.path.join(_node_dir(nl), rec['link'])
    for sub in ('run', 'db'):
        os.makedirs(os.path.join(d, sub), 0o700, exist_ok=True)
    for mnt in (RUN_MOUNT, DB_MOUNT):
        os.makedirs(mnt, 0o755, exist_ok=True)
    with open(os.path.join(d, 'dhcpcd.conf'), 'w') as fh:
        fh.write(_conf(rec))
    with open(os.path.join(d, 'config.json'), 'w') as fh:
        json.dump(dict((k, rec[k]) for k in MANAGED), fh)
    hook = os.path.join(d, 'hook')
    with open(hook, 'w') as fh:
        fh.write(HOOK % {'dir': shlex.quote(d),
                         # without use_dns no other hook runs: the node's resolv.conf stays as it is
                         'next': 'exec %s' % RUN_HOOKS if rec['use_dns'] else 'exit 0'})
    os.chmod(hook, 0o700)
    args = [DHCPCD, '-b', '-q', '-f', os.path.join(d, 'dhcpcd.conf'), '-c', hook]
    if rec['dhcp4'] and not rec['dhcp6']:
        args.append('-4')
    elif rec['dhcp6'] and not rec['dhcp4']:
        args.append('-6')
    args.append(rec['link'])
    script = 'mount --bind "$1" %s && mount --bind "$2" %s && shift 2 && exec "$@"' % (RUN_MOUNT, DB_MOUNT)
    argv = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh',
            os.path.join(d, 'run'), os.path.join(d, 'db')] + args
    res = in_netns(getattr(nl, 'nodenet_netns', None),
                   # no module object here (the engine also runs in the watchdog and the boot unit)
                   lambda: subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # pylint: disable=ansible-bad-function
                                          stderr=subprocess.PIPE, timeout=30, close_fds=True, check=False))
    if res.returncode != 0:
        shutil.rmtree(d, ignore_errors=True)
        raise KernelError("the DHCP client (dhcpcd) did not start on '%s': %s"
                          % (rec['link'], (res.stderr or res.stdout).decode('utf-8', 'replace').strip()[-400:]))
    run = os.path.join(d, 'run')
    for dummy in range(200):   # bounded: ready once its pid file and control socket are there (signals work then)
        if _pid(d) and any(n.endswith('.sock') for n in os.listdir(run)):
            return
        time.sleep(0.05)
    raise KernelError("the DHCP client (dhcpcd) on '%s' exited at once" % rec['link'])


def stop(nl, link):
    """SIGTERM the client (it removes what it configured), wait for it to exit, forget it."""
    d = os.path.join(_node_dir(nl), link)
    pid = _pid(d)
    if pid:
        deadline = time.time() + STOP_TIMEOUT
        sent = 0
        while time.time() < deadline and os.path.exists('/proc/%d' % pid):
            if time.time() >= sent + 1:    # again each second: a client still starting up may not have heard it
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
                sent = time.time()
            try:
                with open('/proc/%d/stat' % pid) as fh:
                    if fh.read().rsplit(')', 1)[1].split()[0] == 'Z':
                        break
            except (OSError, IndexError):
                break
            time.sleep(0.05)
        else:
            if os.path.exists('/proc/%d' % pid):
                raise KernelError("the DHCP client (dhcpcd, pid %d) on '%s' did not stop within %ds" % (pid, link, STOP_TIMEOUT))
    shutil.rmtree(d, ignore_errors=True)


def apply(nl, op):
    if op['action'] in ('delete', 'modify'):
        stop(nl, op['key'])
    if op['action'] in ('create', 'modify'):
        start(nl, op['after'])


def inverse(op):
    if op['action'] == 'create':
        return _op('delete', op['key'], before=op['after'])
    if op['action'] == 'delete':
        return _op('create', op['key'], after=op['before']) if op['before'].get('dhcp4') or op['before'].get('dhcp6') \
            else _op('delete', op['key'], before=op['before'])
    return _op('modify', op['key'], before=op['after'], after=op['before'])


def satisfied(op, state):
    obs = state.get(KIND).get(op['key'])
    if op['action'] == 'delete':
        return obs is None or not obs.get('running'), "the DHCP client on '%s' still runs" % op['key']
    if obs is None or not obs.get('running'):
        return False, "the DHCP client on '%s' is not running" % op['key']
    for k in MANAGED:
        if obs.get(k) != op['after'][k]:
            return False, "the DHCP client on '%s' runs with %s=%s, expected %s" % (op['key'], k, obs.get(k), op['after'][k])
    return True, None
