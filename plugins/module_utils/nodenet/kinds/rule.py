# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy routing rules, like Talos's RoutingRuleConfig."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import attrs, c_string, dump, ip_text, u32

KIND = 'rule'
SECTION = 'rules'
RANK = 3
LINK = False
FEATURE = None
INFO = 'rules'
ACTIONS = {'unicast': 1, 'goto': 2, 'nop': 3, 'blackhole': 6, 'unreachable': 7, 'prohibit': 8}
ACTION_NAMES = dict((n, a) for a, n in ACTIONS.items())
SELECTORS = ('src', 'dst', 'iif_name', 'oif_name', 'fw_mark', 'fw_mask')
FIELDS = ('family', 'priority', 'src', 'dst', 'table', 'action', 'iif_name', 'oif_name', 'fw_mark', 'fw_mask')

OPTIONS = dict(
    priority=dict(type='int'),
    src=dict(type='str'),
    dst=dict(type='str'),
    table=dict(type='raw'),
    action=dict(type='str', default='unicast', choices=[a for a in ACTIONS if a not in ('goto', 'nop')]),
    iif_name=dict(type='str'),
    oif_name=dict(type='str'),
    fw_mark=dict(type='int'),
    fw_mask=dict(type='int'),
    family=dict(type='str', choices=['inet4', 'inet6']),
    state=dict(type='str', default='present', choices=['present', 'absent']),
)

_op = base.maker(KIND)


def normalize(entry, where=''):
    f = v.fields(entry, OPTIONS, where)

    rec = {'state': v.choice(entry.get('state') or 'present', f('state'), ('present', 'absent')),
           'action': v.choice(entry.get('action') or 'unicast', f('action'), [a for a in ACTIONS if a not in ('goto', 'nop')])}
    fam = {'inet4': 4, 'inet6': 6}.get(entry.get('family')) if entry.get('family') else None
    if entry.get('family') and fam is None:
        v.choice(entry['family'], f('family'), ('inet4', 'inet6'))
    for opt in ('src', 'dst'):
        if entry.get(opt):
            net = v.network(entry[opt], f(opt))
            if fam and net.version != fam:
                raise ValidationError("%s is IPv%d but the rule is IPv%d" % (net, net.version, fam), f(opt))
            fam = net.version
            rec[opt] = str(net)
    rec['family'] = 'inet%d' % (fam or 4)
    if entry.get('priority') is not None:
        rec['priority'] = v.integer(entry['priority'], f('priority'), 0, 0xFFFFFFFF)
    if rec['action'] == 'unicast':
        if entry.get('table') is None and rec['state'] == 'present':
            raise ValidationError("a unicast (lookup) rule needs the routing table to look up", f('table'))
        if entry.get('table') is not None:
            rec['table'] = v.table(entry['table'], f('table'))
    elif entry.get('table') is not None:
        raise ValidationError("a %s rule takes no table" % rec['action'], f('table'))
    for opt in ('iif_name', 'oif_name'):
        if entry.get(opt):
            rec[opt] = v.ifname(entry[opt], f(opt))
    if entry.get('fw_mark') is not None:
        rec['fw_mark'] = v.integer(entry['fw_mark'], f('fw_mark'), 0, 0xFFFFFFFF)
    if entry.get('fw_mask') is not None:
        if 'fw_mark' not in rec:
            raise ValidationError("fw_mask only makes sense with fw_mark", f('fw_mask'))
        rec['fw_mask'] = v.integer(entry['fw_mask'], f('fw_mask'), 0, 0xFFFFFFFF)
    return rec


def key(rec):
    parts = [rec['family']]
    if rec.get('priority') is not None:
        parts.append('priority %d' % rec['priority'])
    for opt, word in (('src', 'from'), ('dst', 'to'), ('iif_name', 'iif'), ('oif_name', 'oif')):
        if rec.get(opt):
            parts.append('%s %s' % (word, rec[opt]))
    if rec.get('fw_mark') is not None:
        parts.append('fwmark %#x%s' % (rec['fw_mark'], '/%#x' % rec['fw_mask'] if rec.get('fw_mask') is not None else ''))
    if rec.get('table') is not None:
        parts.append('lookup %s' % v.table_name(rec['table']))
    else:
        parts.append(rec['action'])
    return ' '.join(parts)


RTM_GETRULE = 34
FIB_RULE_HDR = struct.Struct('=BBBBBBBBI')   # family, dst_len, src_len, tos, table, res1, res2, action, flags
FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_PRIORITY, FRA_FWMARK, FRA_TABLE, FRA_FWMASK, FRA_OIFNAME = 1, 2, 3, 6, 10, 15, 16, 17


def read(nl, state=None):
    """RuleStatus records: the rule dumps of both families, decoded by the engine (netlink.dump)."""
    out = {}
    for fam in (socket.AF_INET, socket.AF_INET6):
        for body in dump(nl, RTM_GETRULE, FIB_RULE_HDR.pack(fam, 0, 0, 0, 0, 0, 0, 0, 0)):
            family, dst_len, src_len, dummy, htable, dummy, dummy, action, dummy = FIB_RULE_HDR.unpack_from(body)
            if family != fam:
                continue
            a = attrs(body, FIB_RULE_HDR.size)
            rec = {'family': 'inet4' if fam == socket.AF_INET else 'inet6',
                   'priority': u32(a[FRA_PRIORITY]) if FRA_PRIORITY in a else 0,
                   'action': ACTION_NAMES.get(action, str(action))}
            if FRA_SRC in a or src_len:
                rec['src'] = '%s/%d' % (ip_text(fam, a[FRA_SRC]) if FRA_SRC in a else None, src_len)
            if FRA_DST in a or dst_len:
                rec['dst'] = '%s/%d' % (ip_text(fam, a[FRA_DST]) if FRA_DST in a else None, dst_len)
            if rec['action'] == 'unicast':
                rec['table'] = (u32(a[FRA_TABLE]) if FRA_TABLE in a else 0) or htable
            for atype, field in ((FRA_IIFNAME, 'iif_name'), (FRA_OIFNAME, 'oif_name')):
                name = c_string(a[atype]) if atype in a else None
                if name:
                    rec[field] = name
            if FRA_FWMARK in a:
                rec['fw_mark'] = u32(a[FRA_FWMARK])
                if FRA_FWMASK in a and u32(a[FRA_FWMASK]) != 0xFFFFFFFF:
                    rec['fw_mask'] = u32(a[FRA_FWMASK])
            out[key(rec)] = rec
    return out


def matches(rec, obs):
    """Does the observed rule satisfy the desired one (all fields the user set)?"""
    for f in FIELDS:
        if f == 'priority' and rec.get('priority') is None:
            continue
        if rec.get(f) != obs.get(f):
            return False
    return True


def plan(records, state, ctx):
    observed = state.get(KIND)
    ops = []
    for where, k, rec in base.keyed(records, SECTION, key, lambda rec, k: ("rule '%s' is declared twice" % k, 'priority')):
        found = [(ok, obs) for ok, obs in sorted(observed.items()) if matches(rec, obs)]
        if rec['state'] == 'absent':
            for ok, obs in found:
                ops.append(_op('delete', ok, before=obs))
        elif not found:
            ops.append(_op('create', k, after=_clean(rec)))
    return ops


# Rules every kernel has: (priority, table); never purged.
DEFAULT_RULES = ((0, 255), (32766, 254), (32767, 253))


PURGE = ('rules',)


def purge(records, state, links, planned, chosen):
    """Removals for `purge: [rules]`: rules no entry declares that point at a table this state
    manages (its routes' or rules' tables, not main/default/local) or name a managed link."""
    declared = [r for r in records.get(KIND, []) if r['state'] == 'present']
    tables = set(r['table'] for r in records.get('route', []) + records.get(KIND, [])
                 if r.get('table') is not None) - set((253, 254, 255))
    out = []
    for k, obs in sorted(state.get(KIND).items()):
        if (obs['priority'], obs.get('table')) in DEFAULT_RULES or (KIND, k) in planned:
            continue
        if any(matches(r, obs) for r in declared):
            continue
        if obs.get('table') in tables or obs.get('iif_name') in links or obs.get('oif_name') in links:
            out.append(_op('delete', k, before=obs))
    return out


def _clean(rec):
    return dict((f, rec[f]) for f in FIELDS if rec.get(f) is not None)


def _args(rec):
    kw = {'family': socket.AF_INET if rec['family'] == 'inet4' else socket.AF_INET6,
          'action': ACTIONS[rec['action']]}
    if rec.get('priority') is not None:
        kw['priority'] = rec['priority']
    for opt in ('src', 'dst'):
        if rec.get(opt):
            addr, plen = rec[opt].split('/')
            kw[opt], kw[opt + '_len'] = addr, int(plen)
    if rec.get('table') is not None:
        kw['table'] = rec['table']
    if rec.get('iif_name'):
        kw['iifname'] = rec['iif_name']
    if rec.get('oif_name'):
        kw['oifname'] = rec['oif_name']
    if rec.get('fw_mark') is not None:
        kw['fwmark'] = rec['fw_mark']
        kw['fwmask'] = rec.get('fw_mask', 0xFFFFFFFF)
    return kw


def apply(nl, op):
    try:
        if op['action'] == 'create':
            nl.rule('add', **_args(op['after']))
        else:
            nl.rule('del', **_args(op['before']))
    except Exception as e:  # noqa: BLE001
        raise explain(e, "%s rule '%s'" % (op['action'], op['key']))


inverse = base.inverter(KIND, _clean)


def satisfied(op, state):
    observed = state.get(KIND)
    if op['action'] == 'delete':
        if op['key'] in observed:
            return False, "rule '%s' is still present" % op['key']
        return True, None
    if any(matches(op['after'], obs) for obs in observed.values()):
        return True, None
    return False, "rule '%s' is missing" % op['key']
