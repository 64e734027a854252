# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NIC tuning (Talos's EthernetConfig): queue counts (`channels`), ring sizes (`rings`) and offloads
(`features`) of a link, through pyroute2's ethtool support (SIOCETHTOOL ioctls, ethtool netlink for rings).

The options belong to the `links` entries (the link module and the network module's `links`); this kind
has no section of its own. link.plan() leaves its records in ctx['link_records'] and plan() here turns
the tuning of each into one operation per link (`modify nic eth0`), applied after the links exist.
Only the values an entry sets are compared and changed; the rest of the NIC is left as it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import fcntl
import socket
import struct

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import in_netns


def _ethtool():
    """(pyroute2's Ethtool, its NotSupportedError), imported when a NIC is first read or tuned."""
    from pyroute2.ethtool import Ethtool
    from pyroute2.ethtool.ioctl import NotSupportedError
    return Ethtool, NotSupportedError


KIND = 'nic'
SECTION = None          # options of the `links` entries, not a section
RANK = 0.5              # after the links are made, before their addresses
LINK = False
FEATURE = None
INFO = 'nics'
CHANNELS = ('rx', 'tx', 'other', 'combined')
RINGS = ('rx', 'tx', 'rx_mini', 'rx_jumbo')
# ethtool's names for groups of kernel features (`ethtool -K eth0 tso off`), as ethtool(8) defines them.
ALIASES = {
    'sg': ['tx-scatter-gather'], 'rx': ['rx-checksum'], 'rxhash': ['rx-hashing'], 'ntuple': ['rx-ntuple-filter'],
    'gro': ['rx-gro'], 'lro': ['rx-lro'], 'gso': ['tx-generic-segmentation'], 'rxvlan': ['rx-vlan-hw-parse'],
    'txvlan': ['tx-vlan-hw-insert'], 'rx-gro-list': ['rx-gro-list'], 'rx-udp-gro-forwarding': ['rx-udp-gro-forwarding'],
    'tx': ['tx-checksum-ipv4', 'tx-checksum-ip-generic', 'tx-checksum-ipv6', 'tx-checksum-fcoe-crc', 'tx-checksum-sctp'],
    'tso': ['tx-tcp-segmentation', 'tx-tcp-ecn-segmentation', 'tx-tcp-mangleid-segmentation', 'tx-tcp6-segmentation'],
    'generic-receive-offload': ['rx-gro'], 'large-receive-offload': ['rx-lro'],
    'generic-segmentation-offload': ['tx-generic-segmentation'], 'scatter-gather': ['tx-scatter-gather'],
    'rx-checksumming': ['rx-checksum'], 'receive-hashing': ['rx-hashing'], 'ntuple-filters': ['rx-ntuple-filter'],
    'rx-vlan-offload': ['rx-vlan-hw-parse'], 'tx-vlan-offload': ['tx-vlan-hw-insert'],
}
ALIASES['tcp-segmentation-offload'] = ALIASES['tso']
ALIASES['tx-checksumming'] = ALIASES['tx']

OPTIONS = dict(
    channels=dict(type='dict', options=dict((c, dict(type='int')) for c in CHANNELS)),
    rings=dict(type='dict', options=dict((r, dict(type='int')) for r in RINGS)),
    features=dict(type='dict'),
)

_op = base.maker(KIND)


def normalize_link(entry, rec, f):
    """The tuning options of a `links` entry -> rec['_nic'] ({channels, rings, features}, only what is set)."""
    out = {}
    for opt, names in (('channels', CHANNELS), ('rings', RINGS)):
        val = dict((k, x) for k, x in (entry.get(opt) or {}).items() if x is not None)
        if not val:
            continue
        if not isinstance(entry[opt], dict):
            raise ValidationError("must be a mapping of %s to counts" % ', '.join(names), f(opt))
        v.reject_unknown(val, names, f(opt))
        out[opt] = dict((k, v.integer(x, '%s.%s' % (f(opt), k), 0 if opt == 'channels' else 1, 0xFFFFFFFF))
                        for k, x in val.items())
    feats = entry.get('features')
    if feats:
        if not isinstance(feats, dict):
            raise ValidationError("must be a mapping of offload name (as 'ethtool -k' shows it) to true or false",
                                  f('features'))
        out['features'] = {}
        for name, on in feats.items():
            if not isinstance(on, bool):
                raise ValidationError("must be true or false", '%s.%s' % (f('features'), name))
            for real in ALIASES.get(name, [name]):
                out['features'][real] = (on, name)
    if out:
        if rec['state'] == 'absent':
            raise ValidationError("state=absent removes the link; do not also set %s" % ', '.join(sorted(out)), f('state'))
        rec['_nic'] = out


def normalize(entry, where=''):
    """No entries of its own (no section): the options come with the links (normalize_link)."""
    raise ValidationError("NIC tuning is set on a link: channels, rings and features of a links entry", where or 'links')


def key(rec):
    return rec['link']


# ---------------------------------------------------------------- read
class Observed(dict):
    """The ethtool state of the links of one namespace, read on demand (link name -> record, None when the
    link does not exist)."""

    def __init__(self, netns):
        dict.__init__(self)
        self.netns = netns

    def get(self, name, default=None):
        if not dict.__contains__(self, name):
            dict.__setitem__(self, name, in_netns(self.netns, lambda: read_link(name)))
        val = dict.__getitem__(self, name)
        return default if val is None else val


def read(nl, state=None):
    return Observed(getattr(nl, 'nodenet_netns', None))


SIOCETHTOOL = 0x8946
ETHTOOL_GDRVINFO = 0x3
DRVINFO = struct.Struct('=I32s32s32s32s32s12s5I')


def driver(name):
    """The link's driver as `ethtool -i` names it (veth, ixgbe, ...), or None."""
    buf = ctypes.create_string_buffer(DRVINFO.pack(ETHTOOL_GDRVINFO, *([b''] * 6 + [0] * 5)))
    req = struct.pack('16sP', name.encode('utf-8'), ctypes.addressof(buf))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, req)
    except (IOError, OSError):
        return None
    finally:
        sock.close()
    return DRVINFO.unpack(buf.raw[:DRVINFO.size])[1].split(b'\0', 1)[0].decode('utf-8', 'replace') or None


def read_link(name):
    """{link, driver, channels, channels_max, rings, rings_max, features, fixed}; a part the driver does not
    support is None. Called inside the link's namespace."""
    drv = driver(name)
    if drv is None:
        return None
    rec = {'link': name, 'driver': drv, 'channels': None, 'channels_max': None, 'rings': None, 'rings_max': None,
           'features': None, 'fixed': None}
    Ethtool, NotSupportedError = _ethtool()
    eth = Ethtool()
    try:
        try:
            ch = eth.get_channels(name)
            rec['channels'] = dict((c, getattr(ch, c + '_count')) for c in CHANNELS)
            rec['channels_max'] = dict((c, getattr(ch, 'max_' + c)) for c in CHANNELS)
        except (NotSupportedError, OSError):
            pass
        try:
            r = eth.get_rings(name)
            rec['rings'] = dict((k, getattr(r, k)) for k in RINGS if getattr(r, k) is not None)
            rec['rings_max'] = dict((k, getattr(r, k + '_max')) for k in RINGS if getattr(r, k + '_max') is not None)
            if not any(rec['rings_max'].values()):
                rec['rings'] = rec['rings_max'] = None
        except (NotSupportedError, OSError):
            pass
        try:
            feats = eth.get_features(name).features
            rec['features'] = dict((n, bool(x.enable)) for n, x in feats.items() if n)
            rec['fixed'] = sorted(n for n, x in feats.items() if n and not x.available)
        except (NotSupportedError, OSError):
            pass
    finally:
        eth.close()
    return rec


def info_records(state):
    """network_info's `nics`: the ethtool state of every link that has a driver (not `lo`)."""
    obs = state.get(KIND)
    out = []
    for name, link in sorted(state.links().items(), key=lambda x: x[1]['index']):
        rec = obs.get(name)
        if rec is not None and name != 'lo':
            out.append(rec)
    return out


# ---------------------------------------------------------------- plan
def plan(records, state, ctx):
    """One `modify nic <link>` per link entry with tuning whose values differ from the NIC's."""
    observed = state.get(KIND)
    ops = []
    for i, rec in enumerate(ctx.get('link_records') or []):
        tune = rec.get('_nic')
        if not tune or rec['state'] != 'present':
            continue
        where = rec.get('_where', '')
        obs = observed.get(rec['name']) if rec['name'] in state.links() else None
        if obs is None:
            # made by this plan: nothing to compare with yet; apply checks the limits
            ops.append(_op('modify', rec['name'], before=None, after=_after(rec['name'], tune)))
            continue
        check(obs, tune, where)
        before, after = {'link': rec['name']}, {'link': rec['name']}
        for part in ('channels', 'rings', 'features'):
            want = dict((k, x[0] if part == 'features' else x) for k, x in (tune.get(part) or {}).items())
            have = obs[part] or {}
            diff = dict((k, x) for k, x in want.items() if have.get(k) != x)
            if diff:
                before[part] = dict((k, have.get(k)) for k in diff)
                after[part] = diff
        if len(after) > 1:
            ops.append(_op('modify', rec['name'], before=before, after=after))
    return ops


def _after(name, tune):
    out = {'link': name}
    for part in ('channels', 'rings'):
        if tune.get(part):
            out[part] = dict(tune[part])
    if tune.get('features'):
        out['features'] = dict((k, x[0]) for k, x in tune['features'].items())
    return out


def check(obs, tune, where):
    """ValidationError naming the setting and the driver, for what this NIC can't do."""
    drv, name = obs['driver'], obs['link']
    for part in ('channels', 'rings'):
        want = tune.get(part)
        if not want:
            continue
        field = v.sub(where, part)
        if obs[part] is None:
            raise ValidationError("driver '%s' of link '%s' does not support changing %s" % (drv, name, part), field)
        for k, x in sorted(want.items()):
            top = (obs[part + '_max'] or {}).get(k)
            if top is None or (top == 0 and x):
                raise ValidationError("driver '%s' of link '%s' has no %s %s to set" % (drv, name, k, part), '%s.%s' % (field, k))
            if x > top:
                raise ValidationError("%d is above the maximum %d that driver '%s' allows for link '%s'" % (x, top, drv, name),
                                      '%s.%s' % (field, k))
    feats = tune.get('features')
    if feats:
        field = v.sub(where, 'features')
        given_names = list(feats.values())
        if obs['features'] is None:
            raise ValidationError("driver '%s' of link '%s' does not support changing offloads" % (drv, name), field)
        for real, (on, given) in sorted(feats.items()):
            if real not in obs['features'] or (real in obs['fixed'] and obs['features'][real] != on and given != real):
                if given != real:   # a member of an ethtool group this NIC lacks or can't change: as ethtool -K does
                    del feats[real]
                    continue
                raise ValidationError("link '%s' (driver '%s') has no offload named '%s'; it has: %s"
                                      % (name, drv, given, ', '.join(sorted(obs['features']))), '%s.%s' % (field, given))
            if real in obs['fixed'] and obs['features'][real] != on:
                raise ValidationError("offload %s of link '%s' is fixed %s by driver '%s'" % (
                    real, name, 'on' if obs['features'][real] else 'off', drv), '%s.%s' % (field, given))
        for given in sorted(set(g for dummy, g in given_names)):
            if not any(g == given for dummy, g in feats.values()):
                raise ValidationError("link '%s' (driver '%s') has no offload '%s' it can change (%s)"
                                      % (name, drv, given, ', '.join(ALIASES.get(given, [given]))), '%s.%s' % (field, given))


# ---------------------------------------------------------------- apply
def apply(nl, op):
    name, after = op['key'], op['after']
    if after is None or len(after) < 2:
        return
    netns = getattr(nl, 'nodenet_netns', None)
    Ethtool, NotSupportedError = _ethtool()

    def run():
        if op['before'] is None:    # a link made in this run: its limits are known only now
            obs = read_link(name)
            if obs is None:
                raise ValidationError("link '%s' does not exist" % name, 'links')
            tune = dict((p, after[p]) for p in ('channels', 'rings') if p in after)
            if 'features' in after:
                tune['features'] = dict((k, (x, k)) for k, x in after['features'].items())
            check(obs, tune, name)
        eth = Ethtool()
        try:
            if after.get('channels'):
                eth.set_channels(name, dict((c + '_count', x) for c, x in after['channels'].items()))
            if after.get('rings'):
                eth.set_rings(name, **after['rings'])
            if after.get('features'):
                feats = eth.get_features(name)
                for k, on in after['features'].items():
                    feats.features[k].enable = on
                eth.set_features(name, feats)
        finally:
            eth.close()
    try:
        in_netns(netns, run)
    except ValidationError:
        raise
    except NotSupportedError as e:
        raise explain(OSError(95, 'the driver does not support it: %s' % e), "tune NIC %s" % name)
    except Exception as e:  # noqa: BLE001
        raise explain(e, "tune NIC %s (%s)" % (name, ', '.join(sorted(k for k in after if k != 'link'))))


def inverse(op):
    """Put back the values the change replaced (a link made in this run goes with the link)."""
    if op['before'] is None:
        return _op('modify', op['key'], before=op['after'], after=None)
    return base.swap(op)


def satisfied(op, state):
    after = op['after']
    if after is None:
        return True, None
    obs = state.get(KIND).get(op['key'])
    if obs is None:
        return False, "link %s is missing" % op['key']
    for part in ('channels', 'rings', 'features'):
        for k, x in (after.get(part) or {}).items():
            if (obs[part] or {}).get(k) != x:
                return False, "link %s has %s %s=%s, expected %s" % (op['key'], part, k, (obs[part] or {}).get(k), x)
    return True, None
