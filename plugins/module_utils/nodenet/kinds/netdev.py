# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every kind of network link shares: common options, the plan context that
lets links refer to each other across kinds, dependency depths, and ports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import linkdump
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import MissingReference, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import link_index

index = link_index

# Options of every link-like kind (link, bond, vlan, bridge).
COMMON_OPTIONS = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    up=dict(type='bool'),
    mtu=dict(type='int'),
    hardware_addr=dict(type='str'),
)


def options(**extra):
    out = dict(COMMON_OPTIONS)
    out.update(extra)
    return out


def normalize_common(entry, where, allowed):
    """Validate the options every link kind has; return (record, field-namer)."""
    f = v.fields(entry, allowed, where)
    rec = {'name': v.ifname(entry.get('name'), f('name')),
           'state': v.choice(entry.get('state') or 'present', f('state'), ('present', 'absent'))}
    common_fields(entry, rec, f)
    return rec, f


def common_fields(entry, rec, f):
    """The options every link kind has besides its name: up, mtu, hardware_addr (into `rec`)."""
    if entry.get('up') is not None:
        rec['up'] = bool(entry['up'])
    if entry.get('mtu') is not None:
        rec['mtu'] = v.mtu(entry['mtu'], f('mtu'))
    if entry.get('hardware_addr') is not None:
        rec['hardware_addr'] = v.mac(entry['hardware_addr'], f('hardware_addr'))


def check_absent(rec, f, keep=('name', 'state', 'kind')):
    if rec['state'] == 'absent':
        extra = [k for k in rec if k not in keep and not k.startswith('_')]
        if extra:
            raise ValidationError("state=absent removes the link; do not also set %s" % ', '.join(sorted(extra)), f('state'))


def where_of(rec, i, records, kind):
    return rec.get('_where', '%ss[%d]' % (kind, i) if len(records) > 1 else '')


def clean(rec):
    return dict((k, val) for k, val in rec.items() if not k.startswith('_') and k != 'state')


# ---------------------------------------------------------------- plan context
def context(ctx, state):
    """The link-name bookkeeping shared by every link kind of one plan:
    link_present (names that exist after the plan), link_absent (names it removes),
    link_deps (name -> names that must exist first), link_mtu (name -> MTU after the plan)."""
    if 'link_present' not in ctx:
        observed = state.links()
        ctx['link_present'] = set(observed)
        ctx['link_absent'] = set()
        ctx['link_deps'] = {}
        ctx['link_mtu'] = dict((n, o.get('mtu')) for n, o in observed.items())
        ctx['link_owner'] = {}
    return ctx


def reader(kind):
    """read(nl, state) for a link kind: its LinkStatus records, from the one link dump."""
    def read(nl, state):
        return dict((n, r) for n, r in state.links().items() if r.get('kind') == kind)
    return read


def declarer(kind, deps):
    """declare(records, state, ctx) for a link kind whose records need `deps(rec)` first."""
    def declare_kind(records, state, ctx):
        declare(ctx, state, records, kind, deps)
    return declare_kind


def declare(ctx, state, records, kind, deps):
    """Record what `records` of a simple kind (bond, vlan, bridge) create, remove and need."""
    context(ctx, state)
    observed = state.links()
    for i, rec in enumerate(records):
        name = rec['name']
        where = where_of(rec, i, records, kind)
        claim(ctx, name, where)
        if rec['state'] == 'absent':
            if name in observed:
                ctx['link_absent'].add(name)
                ctx['link_present'].discard(name)
            continue
        ctx['link_present'].add(name)
        ctx['link_deps'][name] = set(deps(rec))
        ctx.setdefault('link_kind', {})[name] = kind
        if 'mtu' in rec:
            ctx['link_mtu'][name] = rec['mtu']
        elif name not in observed:
            ctx['link_mtu'][name] = None


def claim(ctx, name, where):
    """A link name may be declared once in a plan, whatever its kind."""
    if name in ctx['link_owner']:
        raise ValidationError("link '%s' is declared twice (also at %s)" % (name, ctx['link_owner'][name] or 'the first entry'),
                              v.sub(where, 'name'))
    ctx['link_owner'][name] = where


def need_link(ctx, name, field, role):
    """Fail (before anything is touched) when `name` will not exist after the plan.
    role: what the link is to the declaring object, e.g. "the parent of link 'mv0'"."""
    if name in ctx['link_absent']:
        raise ValidationError("link '%s', %s, is removed by this plan" % (name, role), field)
    if name not in ctx['link_present']:
        raise MissingReference("link '%s', %s, does not exist and is not declared" % (name, role), field)


def plan_each(records, state, kind, noun, removal, present):
    """The loop every link kind's planner shares: each record's field names, the existing link
    of that name (refused when it is of another kind), removals (`removal(obs)` is the record
    that recreates the link on rollback), and `present(rec, obs, where, f)` for the rest, which
    returns an operation or None."""
    observed = state.links()
    out = []
    for i, rec in enumerate(records):
        where = where_of(rec, i, records, kind)

        def f(name, where=where):
            return v.sub(where, name)

        name = rec['name']
        obs = observed.get(name)
        if obs is not None and obs.get('kind') != kind:
            raise ValidationError("link '%s' exists and is a %s, not a %s" % (name, obs.get('kind') or 'physical link', noun), f('name'))
        if rec['state'] == 'absent':
            if obs is not None:
                out.append(base.op(kind, 'delete', name, before=removal(obs)))
            continue
        op = present(rec, obs, where, f)
        if op:
            out.append(op)
    return out


def create_op(kind, rec, state):
    """Create a master with its ports; remembers which ports were up, to restore on rollback."""
    after = clean(rec)
    after['_ports_up'] = ports_up(state, rec.get('links') or ())
    return base.op(kind, 'create', rec['name'], after=after)


def common_changes(rec, obs, where, fields=('up', 'mtu', 'hardware_addr')):
    """(before, after) for the mutable fields set in `rec` that differ from `obs`."""
    before, after = {}, {}
    for k in fields:
        if k in rec and rec[k] != obs.get(k):
            before[k], after[k] = obs.get(k), rec[k]
    if 'mtu' in after:
        lo, hi = obs.get('min_mtu') or 0, obs.get('max_mtu') or 0
        if hi and not lo <= after['mtu'] <= hi:
            raise ValidationError("link '%s' accepts an MTU of %d-%d, not %d" % (rec['name'], lo, hi, after['mtu']), v.sub(where, 'mtu'))
    return before, after


def observed_deps(state):
    """Dependencies of the links that exist now: a link needs its parent; a master needs its ports."""
    deps = {}
    for name, obs in state.links().items():
        if obs.get('parent'):
            deps.setdefault(name, set()).add(obs['parent'])
        if obs.get('master'):
            deps.setdefault(obs['master'], set()).add(name)
    return deps


def set_depths(ops, ctx, state):
    """op['depth'] for link-like operations: 1 + the depth of what the link needs;
    removals get the negative depth so they run children first."""
    deps = observed_deps(state)
    deps.update(ctx.get('link_deps') or {})
    memo = {}

    def depth(name, trail=()):
        if name in memo:
            return memo[name]
        if name in trail or len(trail) > 32:
            raise ValidationError("links depend on each other in a loop: %s" % ' -> '.join(trail + (name,)), name)
        d = 0
        for dep in deps.get(name, ()):
            d = max(d, depth(dep, trail + (name,)) + 1)
        memo[name] = d
        return d

    for op in ops:
        d = depth(op['key'])
        op['depth'] = -d if op['action'] == 'delete' else d


# ---------------------------------------------------------------- apply
def set_fields(nl, name, fields):
    """Set common fields on a link. None means "the kernel had nothing": it clears an
    alias and leaves the other fields alone (they have no empty value to go back to)."""
    fields = dict((k, val) for k, val in fields.items() if val is not None or k == 'alias')
    kw = {}
    if 'mtu' in fields:
        kw['mtu'] = fields['mtu']
    if 'hardware_addr' in fields:
        kw['address'] = fields['hardware_addr']
    if 'txqueuelen' in fields:
        kw['txqlen'] = fields['txqueuelen']
    if 'alias' in fields:
        kw['ifalias'] = fields['alias'] or ''
    if 'macvlan_mode' in fields:
        kw['kind'] = 'macvlan'
        kw['macvlan_mode'] = fields['macvlan_mode']
    if 'up' in fields:
        kw['state'] = 'up' if fields['up'] else 'down'
    if kw:
        nl.link('set', index=index(nl, name), **kw)


def is_up(nl, name):
    return bool(linkdump.one(nl, index(nl, name))['flags'] & 1)


def set_up(nl, name, up):
    nl.link('set', index=index(nl, name), state='up' if up else 'down')


def enslave(nl, port, master, down_first=False):
    """Make `port` a port of `master`. Bonds take ports only while they are down; the
    bond brings them up itself."""
    idx = index(nl, port)
    if down_first:
        nl.link('set', index=idx, state='down')
    nl.link('set', index=idx, master=index(nl, master))


def release(nl, port):
    nl.link('set', index=index(nl, port), master=0)


def ports_up(state, ports):
    """{port: up} for the existing links among `ports`: what to restore when they are released
    (the kernel takes a link down when it leaves a bond)."""
    links = state.links()
    return dict((p, bool(links[p].get('up'))) for p in ports if p in links)


def restore_up(nl, ports_up):
    for port, up in sorted((ports_up or {}).items()):
        if up and nl.link_lookup(ifname=port):
            set_up(nl, port, True)


def move_ports(nl, master, before, after, down_first=False):
    """A modify of `master`'s ports: release the ports it no longer has (and bring up again those that
    were up before they were enslaved), then enslave the new ones."""
    old, new = before.get('links') or [], after['links']
    for port in old:
        if port not in new:
            release(nl, port)
    restore_up(nl, after.get('_ports_up'))
    for port in new:
        if port not in old:
            enslave(nl, port, master, down_first=down_first)


def apply_link(nl, op, create, modify):
    """apply() of a link kind with ports (bond, bridge): create(nl, after), modify(nl, name, before,
    after), or delete the link and bring its former ports back up as they were."""
    name = op['key']
    if op['action'] == 'create':
        create(nl, op['after'])
    elif op['action'] == 'modify':
        modify(nl, name, op['before'], op['after'])
    elif op['action'] == 'delete':
        nl.link('del', index=index(nl, name))
        restore_up(nl, op['before'].get('_ports_up'))


def ports_of(state, master):
    """Names of the links whose master is `master`, in ifindex order."""
    links = state.links()
    return [n for n, o in sorted(links.items(), key=lambda kv: kv[1]['index']) if o.get('master') == master]


def check_port(ctx, state, port, master, field):
    """A port must exist after the plan and not belong to another master that keeps it."""
    need_link(ctx, port, field, "a port of '%s'" % master)
    obs = state.links().get(port)
    claimed = ctx.setdefault('port_claims', {})
    if port in claimed and claimed[port] != master:
        raise ValidationError("link '%s' is declared as a port of both '%s' and '%s'" % (port, claimed[port], master), field)
    claimed[port] = master
    if obs and obs.get('master') and obs['master'] != master and obs['master'] not in ctx['link_absent']:
        raise ValidationError("link '%s' is already a port of '%s'; remove it from there first" % (port, obs['master']), field)


# ---------------------------------------------------------------- verify
def satisfied(op, state, noun, observed):
    """verify for a link kind: gone after a removal; otherwise every field the operation set,
    as the kernel shows it. observed(field, record, wanted) -> (have, want) to compare, or None
    to skip the field (one the kernel does not report the way it was set)."""
    obs = state.links().get(op['key'])
    if op['action'] == 'delete':
        return obs is None, None
    if obs is None:
        return False, "%s '%s' is missing" % (noun, op['key'])
    for k, want in op['after'].items():
        if k == 'name' or k.startswith('_'):
            continue
        pair = observed(k, obs, want)
        if pair is not None and pair[0] != pair[1]:
            return False, "%s '%s' %s is %s, expected %s" % (noun, op['key'], k, pair[0], pair[1])
    return True, None


# ---------------------------------------------------------------- other managers
RUN_DIR = '/run'


def owner(name, ifindex, run_dir=None):
    """The network manager that claims link `name`, or None: NetworkManager keeps a state
    file per managed device under /run/NetworkManager/devices/<ifindex>; systemd-networkd one
    under /run/systemd/netif/links/<ifindex> whose ADMIN_STATE says whether it configures it."""
    run_dir = run_dir or RUN_DIR
    nm = os.path.join(run_dir, 'NetworkManager', 'devices', str(ifindex))
    if os.path.exists(nm):
        try:
            with open(nm) as fh:
                text = fh.read()
        except (IOError, OSError):
            text = ''
        if 'managed=false' not in text.replace(' ', ''):
            return 'NetworkManager'
    nd = os.path.join(run_dir, 'systemd', 'netif', 'links', str(ifindex))
    if os.path.exists(nd):
        try:
            with open(nd) as fh:
                text = fh.read()
        except (IOError, OSError):
            text = ''
        for line in text.splitlines():
            if line.startswith('ADMIN_STATE='):
                if line.split('=', 1)[1].strip() not in ('unmanaged', 'linger', ''):
                    return 'systemd-networkd'
    return None


def check_ports(ctx, state, rec, f):
    """The ports a master declares exist (or will), belong to no other master, and are not
    another network manager's (a warning)."""
    links = state.links()
    for j, port in enumerate(rec.get('links') or ()):
        check_port(ctx, state, port, rec['name'], '%s[%d]' % (f('links'), j))
    warn_owners(ctx, state, [p for p in rec.get('links') or () if (links.get(p) or {}).get('master') != rec['name']], rec['name'])


def warn_owners(ctx, state, ports, master):
    """Warnings for ports another network manager configures (root namespace only: those
    managers' state files describe the host's own links)."""
    nl = getattr(state, 'nl', None)
    if nl is None or getattr(nl, 'nodenet_netns', None):
        return
    for port in ports:
        obs = state.links().get(port)
        if not obs:
            continue
        who = owner(port, obs['index'])
        if who:
            ctx.setdefault('warnings', []).append(
                "link '%s' (to become a port of '%s') is managed by %s, which may undo this change; "
                "mark it unmanaged there" % (port, master, who))
