# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bonds: Talos's BondMasterSpec option set, ports kept in order, mode changes done safely."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import on_pyroute2
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import linkdump
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import netdev

KIND = 'bond'
SECTION = 'bonds'
RANK = 0
LINK = True
FEATURE = ('bonding', 'CONFIG_BONDING')
INFO = None

MODES = ('balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb')
ENUMS = {
    'mode': MODES,
    'xmit_hash_policy': ('layer2', 'layer3+4', 'layer2+3', 'encap2+3', 'encap3+4', 'vlan+srcmac'),
    'lacp_rate': ('slow', 'fast'),
    'ad_select': ('stable', 'bandwidth', 'count'),
    'arp_validate': ('none', 'active', 'backup', 'all', 'filter', 'filter_active', 'filter_backup'),
    'arp_all_targets': ('any', 'all'),
    'fail_over_mac': ('none', 'active', 'follow'),
    'primary_reselect': ('always', 'better', 'failure'),
}
BOOLS = ('use_carrier', 'all_slaves_active', 'tlb_dynamic_lb', 'ad_lacp_active')
# option -> (min, max)
INTS = {
    'miimon': (0, 0x7FFFFFFF), 'updelay': (0, 0x7FFFFFFF), 'downdelay': (0, 0x7FFFFFFF),
    'arp_interval': (0, 0x7FFFFFFF), 'resend_igmp': (0, 255), 'min_links': (0, 0x7FFFFFFF),
    'lp_interval': (1, 0x7FFFFFFF), 'packets_per_slave': (0, 65535), 'num_peer_notif': (0, 255),
    'ad_actor_sys_prio': (1, 65535), 'ad_user_port_key': (0, 1023), 'peer_notif_delay': (0, 0x7FFFFFFF),
    'missed_max': (1, 255),
}
LISTS = {'arp_ip_targets': 4, 'ns_ip6_targets': 6}
# The netlink attribute (IFLA_BOND_<NAME>) of each option.
ATTR = dict((o, o.upper()) for o in list(ENUMS) + list(BOOLS) + list(INTS))
ATTR.update(arp_ip_targets='ARP_IP_TARGET', ns_ip6_targets='NS_IP6_TARGET', num_peer_notif='NUM_PEER_NOTIF',
            lacp_rate='AD_LACP_RATE', primary='PRIMARY')
BOND_OPTIONS = tuple(sorted(ATTR))

_ARP = ('balance-rr', 'active-backup', 'balance-xor', 'broadcast')
# Options that only mean something in some modes; the kernel refuses several of them elsewhere.
OPTION_MODES = {
    'packets_per_slave': ('balance-rr',),
    'xmit_hash_policy': ('balance-xor', '802.3ad', 'balance-tlb'),
    'lacp_rate': ('802.3ad',), 'ad_select': ('802.3ad',), 'ad_actor_sys_prio': ('802.3ad',),
    'ad_user_port_key': ('802.3ad',), 'ad_lacp_active': ('802.3ad',), 'min_links': ('802.3ad',),
    'arp_interval': _ARP, 'arp_ip_targets': _ARP, 'ns_ip6_targets': _ARP, 'arp_validate': _ARP,
    'arp_all_targets': _ARP, 'missed_max': _ARP,
    'primary': ('active-backup', 'balance-tlb', 'balance-alb'),
    'primary_reselect': ('active-backup', 'balance-tlb', 'balance-alb'),
    'fail_over_mac': ('active-backup',),
    'tlb_dynamic_lb': ('balance-tlb',),
    'lp_interval': ('balance-tlb', 'balance-alb'),
    'resend_igmp': ('balance-rr', 'active-backup', 'balance-tlb', 'balance-alb'),
}
# The kernel accepts these only on a bond without ports (and down): ports are released first.
NEEDS_NO_PORTS = ('mode', 'fail_over_mac')
# ... and these only while the bond is down.
NEEDS_DOWN = ('lacp_rate', 'ad_select', 'ad_actor_sys_prio', 'ad_user_port_key', 'tlb_dynamic_lb', 'ad_lacp_active')

_op = base.maker(KIND)
OPTIONS = netdev.options(
    links=dict(type='list', elements='str'),
    mode=dict(type='str', choices=list(MODES)),
    primary=dict(type='str'),
    arp_ip_targets=dict(type='list', elements='str'),
    ns_ip6_targets=dict(type='list', elements='str'),
    **dict([(o, dict(type='str', choices=list(c))) for o, c in ENUMS.items() if o != 'mode']
           + [(o, dict(type='bool')) for o in BOOLS]
           + [(o, dict(type='int')) for o in INTS])
)
OPTIONS['ad_user_port_key']['no_log'] = False   # an LACP port key, not a secret

_patched = []


def _nla_support():
    """pyroute2 0.9 decodes bond attributes up to IFLA_BOND_TLB_DYNAMIC_LB (27); teach it the
    ones Linux added later (peer_notif_delay 5.3, ad_lacp_active 5.14, missed_max 5.16,
    ns_ip6_target 6.0) so they can be read and set."""
    if _patched:
        return
    _patched.append(True)
    try:
        from pyroute2.netlink.rtnl.ifinfmsg.plugins.bond import bond as bond_nla
    except ImportError:   # a pyroute2 without the plugin layout: those four stay unsupported
        return
    names = [n[0] for n in bond_nla.nla_map]
    extra = (('IFLA_BOND_PEER_NOTIF_DELAY', 'uint32'), ('IFLA_BOND_AD_LACP_ACTIVE', 'uint8'),
             ('IFLA_BOND_MISSED_MAX', 'uint8'), ('IFLA_BOND_NS_IP6_TARGET', '*ipaddr'))
    if len(names) == 28 and names[-1] == 'IFLA_BOND_TLB_DYNAMIC_LB':
        bond_nla.nla_map = tuple(bond_nla.nla_map) + extra


on_pyroute2(_nla_support)


# ---------------------------------------------------------------- validate
def normalize(entry, where=''):
    rec, f = netdev.normalize_common(entry, where, OPTIONS)
    if entry.get('links') is not None:
        ports = [v.ifname(p, '%s[%d]' % (f('links'), i)) for i, p in enumerate(entry['links'])]
        dup = [p for p in ports if ports.count(p) > 1]
        if dup:
            raise ValidationError("port '%s' is listed twice" % dup[0], f('links'))
        if rec['name'] in ports:
            raise ValidationError("a bond can't be its own port", f('links'))
        rec['links'] = ports
    for opt, allowed in ENUMS.items():
        if entry.get(opt) is not None:
            rec[opt] = v.choice(entry[opt], f(opt), allowed)
    for opt in BOOLS:
        if entry.get(opt) is not None:
            rec[opt] = bool(entry[opt])
    for opt, (lo, hi) in INTS.items():
        if entry.get(opt) is not None:
            rec[opt] = v.integer(entry[opt], f(opt), lo, hi)
    for opt, fam in LISTS.items():
        if entry.get(opt) is not None:
            addrs = [str(v.ip(a, '%s[%d]' % (f(opt), i), fam)) for i, a in enumerate(entry[opt])]
            if len(addrs) > 16:
                raise ValidationError("at most 16 targets are allowed, got %d" % len(addrs), f(opt))
            rec[opt] = addrs
    if entry.get('primary') is not None:
        rec['primary'] = v.ifname(entry['primary'], f('primary'))
        if 'links' in rec and rec['primary'] not in rec['links']:
            raise ValidationError("'%s' is not one of the bond's links (%s)" % (rec['primary'], ', '.join(rec['links'])), f('primary'))
    if rec.get('miimon') and rec.get('arp_interval'):
        raise ValidationError("MII monitoring (miimon) and ARP monitoring (arp_interval) exclude each other; set one to 0",
                              f('arp_interval'))
    for opt in ('updelay', 'downdelay', 'peer_notif_delay'):
        if rec.get(opt) and rec.get('miimon') and rec[opt] % rec['miimon']:
            raise ValidationError("%d ms is not a multiple of miimon (%d ms); the kernel would round it down"
                                  % (rec[opt], rec['miimon']), f(opt))
    if 'mode' in rec:
        check_modes(rec, rec['mode'], f)
    netdev.check_absent(rec, f)
    return rec


def check_modes(rec, mode, f):
    for opt, modes in sorted(OPTION_MODES.items()):
        if opt in rec and mode not in modes:
            raise ValidationError("applies only to bonds in mode %s (this bond's mode is %s)" % (' or '.join(modes), mode), f(opt))


def fits(opt, mode):
    return opt not in OPTION_MODES or mode in OPTION_MODES[opt]


def key(rec):
    return rec['name']


# ---------------------------------------------------------------- observe
def details(data, names, m):
    """Bond fields of a LinkStatus record, from the kernel's IFLA_BOND_* attributes."""
    out = {}
    if data is None:
        return out

    def attr(name):
        return data.get_attr('IFLA_BOND_' + name)

    for opt, values in ENUMS.items():
        val = attr(ATTR[opt])
        out[opt] = values[val] if val is not None and val < len(values) else val
    for opt in BOOLS:
        val = attr(ATTR[opt])
        out[opt] = bool(val) if val is not None else None
    for opt in INTS:
        out[opt] = attr(ATTR[opt])
    for opt in LISTS:
        out[opt] = [str(a) for a in (attr(ATTR[opt]) or [])]
    prim = attr('PRIMARY')
    out['primary'] = names.get(prim) if prim else None
    act = attr('ACTIVE_SLAVE')
    out['active_slave'] = names.get(act) if act else None
    return out


def port_details(slave_data):
    """bond_port of a LinkStatus record: whether the port is the active one and its MII state."""
    if slave_data is None:
        return None
    st = slave_data.get_attr('IFLA_BOND_SLAVE_STATE')
    mii = slave_data.get_attr('IFLA_BOND_SLAVE_MII_STATUS')
    return {'state': {0: 'active', 1: 'backup'}.get(st, st), 'mii_status': {0: 'up', 1: 'fail', 2: 'down', 3: 'back'}.get(mii, mii),
            'link_failure_count': slave_data.get_attr('IFLA_BOND_SLAVE_LINK_FAILURE_COUNT'),
            'permanent_hardware_addr': slave_data.get_attr('IFLA_BOND_SLAVE_PERM_HWADDR')}


read = netdev.reader(KIND)


# ---------------------------------------------------------------- plan
declare = netdev.declarer(KIND, lambda rec: rec.get('links') or ())


def plan(records, state, ctx):
    def present(rec, obs, where, f):
        mode = rec.get('mode') or (obs or {}).get('mode') or 'balance-rr'
        check_modes(rec, mode, f)
        netdev.check_ports(ctx, state, rec, f)
        if obs is None:
            return netdev.create_op(KIND, rec, state)
        return _changes(rec, obs, where, mode, state)

    return netdev.plan_each(records, state, KIND, 'bond', lambda obs: _recreatable(obs, netdev.ports_of(state, obs['name'])), present)


def _changes(rec, obs, where, mode, state):
    name = rec['name']
    before, after = netdev.common_changes(rec, obs, where)
    for opt in BOND_OPTIONS:
        if opt in rec and rec[opt] != obs.get(opt):
            before[opt], after[opt] = obs.get(opt), rec[opt]
    if 'links' in rec:
        current = netdev.ports_of(state, name)
        if set(current) != set(rec['links']):
            before['links'], after['links'] = current, rec['links']
            before['_ports_up'] = netdev.ports_up(state, [p for p in rec['links'] if p not in current])
    if after:
        if 'mode' in after or any(o in after for o in NEEDS_NO_PORTS):
            # ports are released and re-added: record what to put back
            before.setdefault('links', netdev.ports_of(state, name))
            after.setdefault('links', before['links'])
            before['_mode'], after['_mode'] = obs.get('mode'), mode
        return _op('modify', name, before=before, after=after)
    return None


def _recreatable(obs, ports):
    """The observed bond as a record that recreates it: mode, the options that fit it, ports."""
    rec = {'name': obs['name'], 'mode': obs.get('mode'), 'links': ports}
    for opt in BOND_OPTIONS:
        if opt != 'mode' and obs.get(opt) not in (None, []) and fits(opt, obs.get('mode')):
            rec[opt] = obs[opt]
    for k in ('up', 'mtu', 'hardware_addr'):
        if obs.get(k) is not None:
            rec[k] = obs[k]
    return rec


# ---------------------------------------------------------------- apply
def _encode(opts, nl, mode):
    """Our option values -> pyroute2 keyword arguments for the options that fit `mode`."""
    kw = {}
    for opt, val in opts.items():
        if opt not in ATTR or opt in ('mode', 'primary') or val is None or not fits(opt, mode):
            continue
        if opt in ENUMS:
            val = ENUMS[opt].index(val)
        elif opt in BOOLS:
            val = 1 if val else 0
        kw['bond_' + ATTR[opt].lower()] = val
    return kw


def _set_primary(nl, name, primary):
    if primary:
        nl.link('set', index=netdev.index(nl, name), kind='bond', bond_primary=netdev.index(nl, primary))


def apply(nl, op):
    name = op['key']
    what = "%s bond '%s'" % (op['action'], name)
    try:
        netdev.apply_link(nl, op, _create, _modify)
    except Exception as e:  # noqa: BLE001
        raise explain(e, what, kind=KIND, feature=FEATURE)


def _create(nl, rec):
    mode = rec.get('mode') or 'balance-rr'
    nl.link('add', ifname=rec['name'], kind='bond', bond_mode=MODES.index(mode), **_encode(rec, nl, mode))
    try:
        netdev.set_fields(nl, rec['name'], dict((k, rec[k]) for k in ('mtu', 'hardware_addr') if k in rec))
        for port in rec.get('links') or ():
            netdev.enslave(nl, port, rec['name'], down_first=True)
        if fits('primary', mode):
            _set_primary(nl, rec['name'], rec.get('primary'))
        if 'up' in rec:
            netdev.set_up(nl, rec['name'], rec['up'])
    except Exception:
        nl.link('del', index=netdev.index(nl, rec['name']))   # the kernel releases the ports
        raise


def _modify(nl, name, before, after):
    mode = after.get('_mode') or _mode_now(nl, name)
    opts = dict((k, val) for k, val in after.items() if k in ATTR)
    was_up = netdev.is_up(nl, name)
    if 'mode' in after or any(o in after for o in NEEDS_NO_PORTS):
        # The kernel changes these only on an empty bond that is down: release, set, re-add.
        for port in before.get('links') or ():
            netdev.release(nl, port)
        netdev.set_up(nl, name, False)
        # Options the new mode does not take keep their value in the kernel; set them while the
        # old mode still takes them (a rollback puts back every value it recorded).
        now = _mode_now(nl, name)
        early = _encode(dict((k, val) for k, val in opts.items() if not fits(k, mode) and fits(k, now)), nl, now)
        if early:
            nl.link('set', index=netdev.index(nl, name), kind='bond', **early)
        kw = _encode(opts, nl, mode)
        kw['bond_mode'] = MODES.index(mode)
        nl.link('set', index=netdev.index(nl, name), kind='bond', **kw)
        for port in after.get('links') or ():
            netdev.enslave(nl, port, name, down_first=True)
        _set_primary(nl, name, after.get('primary') if fits('primary', mode) else None)
        netdev.set_up(nl, name, after.get('up', was_up))
        netdev.set_fields(nl, name, dict((k, after[k]) for k in ('mtu', 'hardware_addr') if k in after))
        return
    kw = _encode(opts, nl, mode)
    if kw:
        if any(o in opts for o in NEEDS_DOWN) and was_up:
            netdev.set_up(nl, name, False)
        nl.link('set', index=netdev.index(nl, name), kind='bond', **kw)
    if 'links' in after:
        netdev.move_ports(nl, name, before, after, down_first=True)
    if 'primary' in after and fits('primary', mode):
        _set_primary(nl, name, after['primary'])
    netdev.set_fields(nl, name, dict((k, after[k]) for k in ('mtu', 'hardware_addr') if k in after))
    netdev.set_up(nl, name, after.get('up', was_up))


def _mode_now(nl, name):
    m = linkdump.one(nl, netdev.index(nl, name))
    data = m.get('linkinfo').get('data')
    return MODES[data.get_attr('IFLA_BOND_MODE')]


def inverse(op):
    return base.swap(op)


# ---------------------------------------------------------------- verify
def satisfied(op, state):
    def observed(k, obs, want):
        if not fits(k, obs.get('mode')):
            return None
        if k == 'links':
            return sorted(netdev.ports_of(state, op['key'])), sorted(want)
        return obs.get(k), want

    return netdev.satisfied(op, state, 'bond', observed)
