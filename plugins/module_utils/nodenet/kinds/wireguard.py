# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""WireGuard links: keys, listen port, firewall mark and an exactly reconciled peer set,
on the kernel (generic netlink) or in userspace (wireguard-go, UAPI socket).

Secrets (private and preshared keys) never enter a record, a diff or a message: records
carry the public key and, for a preshared key, a salted fingerprint ('<redacted:1a2b3c4d>')
that only tells "set" and "changed" apart. The raw keys needed to apply a plan or roll it
back live in the operations' '_spec'/'_saved' fields, wrapped in wg.Secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import wg
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import wireguard_backends as wgb
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import base
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import linkdump
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError, explain
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import netdev
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import link_index

KIND = 'wireguard'
SECTION = 'wireguard'
RANK = 0
LINK = True
FEATURE = ('wireguard', 'CONFIG_WIREGUARD')
INFO = 'wireguard'
BACKENDS = ('auto', 'kernel', 'userspace')
PEER_FIELDS = ('public_key', 'preshared_key', 'endpoint', 'persistent_keepalive_interval', 'allowed_ips')
DEVICE_FIELDS = ('public_key', 'listen_port', 'firewall_mark')
LINK_FIELDS = ('up', 'mtu')

OPTIONS = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    backend=dict(type='str', default='auto', choices=list(BACKENDS)),
    private_key=dict(type='str', no_log=True),
    private_key_file=dict(type='path', no_log=False),
    generate_key=dict(type='bool', default=False),
    listen_port=dict(type='int'),
    firewall_mark=dict(type='int'),
    peers=dict(type='list', elements='dict', options=dict(
        public_key=dict(type='str', required=True, no_log=False),
        preshared_key=dict(type='str', no_log=True),
        endpoint=dict(type='str'),
        persistent_keepalive_interval=dict(type='int'),
        allowed_ips=dict(type='list', elements='str'),
    )),
    up=dict(type='bool'),
    mtu=dict(type='int'),
)
# Option combinations, in the argument spec (the module's and the network section's): Ansible refuses
# them before the module runs; normalize() keeps the same rules for callers without Ansible.
RULES = dict(mutually_exclusive=[('private_key', 'private_key_file')],
             required_if=[('generate_key', True, ('private_key_file',))])


# ---------------------------------------------------------------- validate
def normalize(entry, where=''):
    """Validate one desired WireGuard link. Raw keys go to rec['_secrets'] only."""
    f = v.fields(entry, OPTIONS, where)

    def given(name):
        return entry.get(name) is not None

    rec = {'name': v.ifname(entry.get('name'), f('name')),
           'state': v.choice(entry.get('state') or 'present', f('state'), ('present', 'absent')),
           'backend': v.choice(entry.get('backend') or 'auto', f('backend'), BACKENDS)}
    secrets = {'private_key': None, 'psk': {}}
    rec['_secrets'] = secrets
    if rec['state'] == 'absent':
        extra = [k for k in OPTIONS if given(k) and k not in ('name', 'state', 'backend', 'generate_key')]
        if extra or entry.get('generate_key'):
            raise ValidationError("state=absent removes the link; do not also set %s"
                                  % ', '.join(sorted(extra or ['generate_key'])), f('state'))
        return rec
    if given('private_key') and given('private_key_file'):
        raise ValidationError("set either private_key or private_key_file, not both", f('private_key_file'))
    if entry.get('generate_key') and not given('private_key_file'):
        raise ValidationError("generate_key creates the file named by private_key_file; set private_key_file too", f('generate_key'))
    if given('private_key'):
        raw = wg.parse_key(entry['private_key'], f('private_key'), 'private key')
        secrets['private_key'] = wg.Secret(raw)
        rec['public_key'] = wg.b64(wg.public_key(raw))
    elif given('private_key_file'):
        path = entry['private_key_file']
        if not os.path.isabs(path):
            raise ValidationError("'%s' is not an absolute path" % path, f('private_key_file'))
        raw = wg.read_key_file(path, f('private_key_file'))
        if raw is not None:
            secrets['private_key'] = wg.Secret(raw)
            rec['public_key'] = wg.b64(wg.public_key(raw))
        elif entry.get('generate_key'):
            if not os.path.isdir(os.path.dirname(path)):
                raise ValidationError("the directory of '%s' does not exist, so the key can't be generated there" % path,
                                      f('private_key_file'))
            rec['public_key'] = None     # known once generated (at apply)
            rec['_generate'] = path
        else:
            raise ValidationError("'%s' does not exist; set generate_key: true to create a new key there (mode 0600)" % path,
                                  f('private_key_file'))
    if given('listen_port'):
        if entry['listen_port'] == 0:
            raise ValidationError("0 is not a fixed port; omit listen_port to let WireGuard pick one", f('listen_port'))
        rec['listen_port'] = v.integer(entry['listen_port'], f('listen_port'), 1, 65535)
    if given('firewall_mark'):
        rec['firewall_mark'] = v.integer(entry['firewall_mark'], f('firewall_mark'), 0, 0xFFFFFFFF)
    if given('up'):
        rec['up'] = bool(entry['up'])
    if given('mtu'):
        rec['mtu'] = v.mtu(entry['mtu'], f('mtu'))
    if given('peers'):
        rec['peers'] = _normalize_peers(entry['peers'], f('peers'), rec, secrets)
    return rec


def _normalize_peers(peers, where, rec, secrets):
    if not isinstance(peers, list):
        raise ValidationError("must be a list of peers (each a mapping with public_key, allowed_ips, ...)", where)
    out = []
    seen = {}
    owner = {}
    for i, peer in enumerate(peers):
        pw = '%s[%d]' % (where, i)
        if not isinstance(peer, dict):
            raise ValidationError("each peer is a mapping with public_key, allowed_ips, ...", pw)
        v.reject_unknown(peer, PEER_FIELDS, pw)
        if peer.get('public_key') is None:
            raise ValidationError("every peer needs its public key", pw + '.public_key')
        pub = wg.b64(wg.parse_key(peer['public_key'], pw + '.public_key', 'public key'))
        if pub in seen:
            raise ValidationError("peer %s is listed twice (also at %s)" % (pub, seen[pub]), pw + '.public_key')
        seen[pub] = pw
        if pub == rec.get('public_key'):
            raise ValidationError("is this link's own public key; a link can't be its own peer", pw + '.public_key')
        p = {'public_key': pub, 'preshared_key': None, 'endpoint': None, 'persistent_keepalive_interval': 0}
        if peer.get('preshared_key') is not None:
            raw = wg.parse_key(peer['preshared_key'], pw + '.preshared_key', 'preshared key')
            secrets['psk'][pub] = wg.Secret(raw)
            p['preshared_key'] = wg.fingerprint(raw)
        if peer.get('endpoint') is not None:
            p['endpoint'] = wg.parse_endpoint(peer['endpoint'], pw + '.endpoint')
        if peer.get('persistent_keepalive_interval') is not None:
            p['persistent_keepalive_interval'] = v.integer(peer['persistent_keepalive_interval'],
                                                           pw + '.persistent_keepalive_interval', 0, 65535)
        ips = peer.get('allowed_ips') or []
        if not isinstance(ips, list):
            raise ValidationError("must be a list of networks in CIDR form, e.g. [10.10.0.2/32, fd10::2/128]", pw + '.allowed_ips')
        nets = []
        for j, ip in enumerate(ips):
            fw = '%s.allowed_ips[%d]' % (pw, j)
            net = v.network(ip, fw)
            if str(net) in owner:
                raise ValidationError("%s is also allowed for %s: each network routes to one peer only" % (net, owner[str(net)]), fw)
            owner[str(net)] = pw
            nets.append(net)
        p['allowed_ips'] = _sorted_nets(nets)
        out.append(p)
    return out


def _sorted_nets(nets):
    nets = [n if isinstance(n, (ipaddress.IPv4Network, ipaddress.IPv6Network)) else ipaddress.ip_network(n, strict=False)
            for n in nets]
    return [str(n) for n in sorted(set(nets), key=lambda n: (n.version, int(n.network_address), n.prefixlen))]


def key(rec):
    return rec['name']


# ---------------------------------------------------------------- observe
def read(nl, state):
    """WireGuard status records keyed by link name (kernel links and wireguard-go TUN links)."""
    netns = getattr(nl, 'nodenet_netns', None)
    out = {}
    for name, link in state.links().items():
        if link.get('kind') == 'wireguard':
            be = 'kernel'
        elif link.get('kind') == 'tun' and wgb.uapi_in_netns(name, netns) == 'here':
            be = 'userspace'
        else:
            continue
        out[name] = status(name, be, wgb.backend(be, netns).get(name), link)
    return out


def status(name, be, dev, link):
    """A record from a raw device configuration: public values and fingerprints only."""
    priv = dev.get('private_key')
    peers = []
    for pub in sorted(dev['peers'], key=wg.b64):
        p = dev['peers'][pub]
        peers.append({
            'public_key': wg.b64(pub),
            'preshared_key': p['preshared_key'].fingerprint() if p.get('preshared_key') else None,
            'endpoint': p.get('endpoint'),
            'persistent_keepalive_interval': p.get('persistent_keepalive_interval') or 0,
            'allowed_ips': _sorted_nets(p.get('allowed_ips') or []),
            'latest_handshake': p.get('latest_handshake'),
            'rx_bytes': p.get('rx_bytes') or 0,
            'tx_bytes': p.get('tx_bytes') or 0,
        })
    return {
        'name': name,
        'backend': be,
        'public_key': wg.b64(wg.public_key(priv.raw)) if priv else None,
        'listen_port': dev.get('listen_port') or 0,
        'firewall_mark': dev.get('fwmark') or 0,
        'up': link.get('up'),
        'mtu': link.get('mtu'),
        'peers': peers,
    }


# ---------------------------------------------------------------- plan
def _peer_view(p):
    return dict((k, p.get(k)) for k in PEER_FIELDS)


def _peers_differ(want, have):
    for k in PEER_FIELDS:
        if k == 'endpoint' and want.get(k) is None:
            continue     # no endpoint set: the peer's own (roaming) endpoint is kept
        if want.get(k) != have.get(k):
            return True
    return False


def _resolve_backend(rec, where):
    if rec['backend'] != 'auto':
        return rec['backend']
    return 'kernel' if wgb.kernel_has_wireguard() else 'userspace'


def declare(records, state, ctx):
    """Names these links take, so links, VLANs and addresses of the same plan may refer to them."""
    netdev.declare(ctx, state, records, KIND, lambda rec: ())


def plan(records, state, ctx):
    if not records:
        return []       # other kinds' modules never read WireGuard state
    observed = state.get(KIND)
    links = state.links()
    present = ctx.setdefault('link_present', set(links))
    absent = ctx.setdefault('link_absent', set())
    ops = []
    seen = {}
    for where, rec in base.entries(records, SECTION):
        name = rec['name']
        if name in seen:
            raise ValidationError("WireGuard link '%s' is declared twice (also at %s)" % (name, seen[name] or 'the first entry'),
                                  v.sub(where, 'name'))
        seen[name] = where
        obs = observed.get(name)
        if obs is None and name in links:
            raise ValidationError("link '%s' exists and is not a WireGuard link (kind %s); nothing changed"
                                  % (name, links[name].get('kind') or 'physical'), v.sub(where, 'name'))
        if rec['state'] == 'absent':
            if obs is not None:
                absent.add(name)
                present.discard(name)
                ops.append(_op('delete', name, before=_view(obs), spec={'backend': obs['backend']}))
            continue
        if obs is not None and rec['backend'] not in ('auto', obs['backend']):
            raise ValidationError("WireGuard link '%s' runs on the %s backend; it can't move to '%s' in place (remove it first)"
                                  % (name, obs['backend'], rec['backend']), v.sub(where, 'backend'))
        if obs is None:
            if rec['_secrets']['private_key'] is None and not rec.get('_generate'):
                raise ValidationError("a WireGuard link needs its private key (without one it sends and accepts nothing): set "
                                      "private_key_file (a key file on the node), with generate_key: true to create it there",
                                      v.sub(where, 'private_key_file'))
            be = _resolve_backend(rec, where)
            if be == 'userspace' and wgb.wireguard_go() is None:
                raise ValidationError("the userspace backend needs wireguard-go on the node (Debian/Ubuntu package "
                                      "'wireguard-go'), and the kernel has no WireGuard for backend 'kernel'"
                                      if rec['backend'] == 'auto' else
                                      "the userspace backend needs wireguard-go on the node (Debian/Ubuntu package 'wireguard-go')",
                                      v.sub(where, 'backend'))
            ops.append(_create(rec, be))
            present.add(name)
        else:
            op = _modify(rec, obs)
            if op:
                ops.append(op)
    return ops


def _view(rec):
    """What a diff shows of a record: the managed fields, peers by public key, no secrets."""
    out = dict((k, rec.get(k)) for k in ('name', 'backend') + DEVICE_FIELDS + LINK_FIELDS if rec.get(k) is not None)
    if rec.get('peers') is not None:
        out['peers'] = dict((p['public_key'], _peer_view(p)) for p in rec['peers'])
    return out


def _raw_peer(p, secrets):
    raw = dict((k, p[k]) for k in ('endpoint', 'persistent_keepalive_interval', 'allowed_ips'))
    raw['preshared_key'] = secrets['psk'].get(p['public_key'])
    return raw


def _create(rec, be):
    secrets = rec['_secrets']
    device = {}
    if secrets['private_key'] is not None:
        device['private_key'] = secrets['private_key']
    if 'listen_port' in rec:
        device['listen_port'] = rec['listen_port']
    if 'firewall_mark' in rec:
        device['fwmark'] = rec['firewall_mark']
    spec = {'backend': be, 'device': device,
            'set_peers': dict((wg.parse_key(p['public_key'], 'peers'), _raw_peer(p, secrets)) for p in rec.get('peers') or []),
            'remove_peers': [], 'link': dict((k, rec[k]) for k in LINK_FIELDS if k in rec),
            'generate': rec.get('_generate')}
    after = _view(rec)
    after['backend'] = be
    if rec.get('_generate'):
        after['public_key'] = None
    return _op('create', rec['name'], after=after, spec=spec)


def _modify(rec, obs):
    secrets = rec['_secrets']
    before, after, device, link = {}, {}, {}, {}
    if rec.get('_generate'):
        before['public_key'], after['public_key'] = obs['public_key'], None
    elif 'public_key' in rec and rec['public_key'] != obs['public_key']:
        before['public_key'], after['public_key'] = obs['public_key'], rec['public_key']
        device['private_key'] = secrets['private_key']
    for field, dev_field in (('listen_port', 'listen_port'), ('firewall_mark', 'fwmark')):
        if field in rec and rec[field] != obs.get(field):
            before[field], after[field] = obs.get(field), rec[field]
            device[dev_field] = rec[field]
    for k in LINK_FIELDS:
        if k in rec and rec[k] != obs.get(k):
            before[k], after[k] = obs.get(k), rec[k]
            link[k] = rec[k]
    set_peers, remove = {}, []
    if rec.get('peers') is not None:
        have = dict((p['public_key'], p) for p in obs['peers'])
        want = dict((p['public_key'], p) for p in rec['peers'])
        bp, ap = {}, {}
        for pub, p in want.items():
            if pub not in have or _peers_differ(p, have[pub]):
                bp[pub] = _peer_view(have[pub]) if pub in have else None
                ap[pub] = _peer_view(p)
                set_peers[wg.parse_key(pub, 'peers')] = _raw_peer(p, secrets)
        for pub in have:
            if pub not in want:
                bp[pub], ap[pub] = _peer_view(have[pub]), None
                remove.append(wg.parse_key(pub, 'peers'))
        if ap:
            before['peers'], after['peers'] = bp, ap
    if not after:
        return None
    spec = {'backend': obs['backend'], 'device': device, 'set_peers': set_peers, 'remove_peers': remove,
            'link': link, 'generate': rec.get('_generate')}
    return _op('modify', rec['name'], before=before, after=after, spec=spec)


def _display(view):
    """One diff line per peer ('peer <public key>'); the peer map itself moves to '_peers' (not shown)."""
    if view is None or 'peers' not in view:
        return view
    out = dict((k, val) for k, val in view.items() if k != 'peers')
    out['_peers'] = view['peers']
    for pub, p in view['peers'].items():
        out['peer %s' % pub] = None if p is None else dict((k, val) for k, val in p.items() if k != 'public_key')
    return out


def _op(action, name, before=None, after=None, spec=None):
    o = base.op(KIND, action, name, _display(before), _display(after))
    o['_spec'] = spec or {}
    return o


# ---------------------------------------------------------------- apply
def _set_link(nl, name, fields):
    kw = {}
    if fields.get('mtu') is not None:
        kw['mtu'] = fields['mtu']
    if fields.get('up') is not None:
        kw['state'] = 'up' if fields['up'] else 'down'
    if kw:
        nl.link('set', index=link_index(nl, name), **kw)


def _link_settings(nl, name):
    msg = linkdump.one(nl, link_index(nl, name))
    return {'up': bool(msg['flags'] & 1), 'mtu': msg.get('mtu')}


def _generate(op, spec):
    """Create the key file (never overwriting one) and use its key."""
    raw = wg.generate_private_key()
    wg.write_key_file(spec['generate'], raw)
    op['_generated'] = spec['generate']
    spec['device'] = dict(spec['device'], private_key=wg.Secret(raw))
    op['after']['public_key'] = wg.b64(wg.public_key(raw))


def _saved(be, nl, name):
    return {'device': be.get(name), 'link': _link_settings(nl, name)}


def apply(nl, op):
    name, spec = op['key'], op['_spec']
    netns = getattr(nl, 'nodenet_netns', None)
    be = wgb.backend(spec['backend'], netns)
    what = "%s WireGuard link '%s' (%s backend)" % (op['action'], name, spec['backend'])
    try:
        if op['action'] == 'create':
            if spec.get('generate'):
                _generate(op, spec)
            try:
                be.create(nl, name)
            except Exception:
                _forget_key_file(op)
                raise
            try:
                be.configure(name, spec.get('device'), spec.get('set_peers'), spec.get('remove_peers') or ())
                _set_link(nl, name, spec.get('link') or {})
            except Exception:
                be.delete(nl, name)
                _forget_key_file(op)
                raise
        elif op['action'] == 'modify':
            op['_saved'] = _saved(be, nl, name)
            if spec.get('generate'):
                _generate(op, spec)
            try:
                be.configure(name, spec.get('device'), spec.get('set_peers'), spec.get('remove_peers') or ())
                _set_link(nl, name, spec.get('link') or {})
            except Exception:
                # Part of the change may be in (a UAPI transaction stops at its first error):
                # this operation is not in the journal yet, so undo it here.
                if not op.get('_undo'):
                    try:
                        apply(nl, dict(inverse(op), _undo=True))
                    except Exception:  # noqa: BLE001 - the original error is what the user needs
                        pass
                _forget_key_file(op)
                raise
            if spec.get('remove_key_file'):     # rolling back a generated key
                os.unlink(spec['remove_key_file'])
        elif op['action'] == 'delete':
            op['_saved'] = _saved(be, nl, name)
            be.delete(nl, name)
            if spec.get('remove_key_file'):
                os.unlink(spec['remove_key_file'])
    except Exception as e:  # noqa: BLE001
        raise explain(e, what, kind=KIND, feature=FEATURE)


def _forget_key_file(op):
    path = op.pop('_generated', None)
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


def inverse(op):
    if '_journal_inverse' in op:     # read back from the watchdog's journal file
        return _from_journal(op['_journal_inverse'])
    name, spec = op['key'], op['_spec']
    if op['action'] == 'create':
        return _op('delete', name, before=op['after'],
                   spec={'backend': spec['backend'], 'remove_key_file': op.get('_generated')})
    saved = op['_saved']
    dev, link = saved['device'], saved['link']
    if op['action'] == 'delete':
        device = {'private_key': dev['private_key'], 'listen_port': dev['listen_port'], 'fwmark': dev['fwmark']}
        return _op('create', name, after=op['before'],
                   spec={'backend': spec['backend'], 'device': device, 'set_peers': dict(dev['peers']),
                         'remove_peers': [], 'link': {'mtu': link['mtu'], 'up': link['up']}})
    # modify: put back what the forward operation touched, and nothing else
    device = {}
    if 'private_key' in spec['device'] or op.get('_generated'):
        device['private_key'] = dev['private_key']
    if 'listen_port' in spec['device']:
        device['listen_port'] = dev['listen_port']
    if 'fwmark' in spec['device']:
        device['fwmark'] = dev['fwmark']
    set_peers = dict((pub, dev['peers'][pub]) for pub in list(spec['set_peers']) + list(spec['remove_peers'])
                     if pub in dev['peers'])
    remove = [pub for pub in spec['set_peers'] if pub not in dev['peers']]
    link_back = dict((k, link[k]) for k in spec['link'])
    return _op('modify', name, before=op['after'], after=op['before'],
               spec={'backend': spec['backend'], 'device': device, 'set_peers': set_peers, 'remove_peers': remove,
                     'link': link_back, 'remove_key_file': op.get('_generated')})


# ---------------------------------------------------------------- the journal on disk
# The confirm-or-revert watchdog reads the journal from a file; a WireGuard operation goes there as its
# inverse in plain data: public keys, ports, endpoints, allowed IPs and the PATH of a key file to
# remove; never a private or preshared key. An operation whose undoing would need one (removing a
# link, changing its key, a peer with a preshared key) can't be guarded and is refused before
# anything is touched (unguardable()).

def unguardable(op):
    """Why confirm-or-revert can't undo `op` without writing a key down, or None."""
    spec = op.get('_spec') or {}
    name = op['key']
    if op['action'] == 'delete':
        return ("undoing the removal of WireGuard link '%s' needs its private key, which the journal never holds; "
                "remove it in a task without rollback_timeout" % name)
    if op['action'] == 'modify':
        if 'private_key' in (spec.get('device') or {}) or spec.get('generate'):
            return ("undoing the key change of WireGuard link '%s' needs its previous private key, which the journal "
                    "never holds; change the key in a task without rollback_timeout" % name)
        for pub, p in ((op.get('before') or {}).get('_peers') or {}).items():
            if p and p.get('preshared_key'):
                return ("undoing the change to peer %s of WireGuard link '%s' needs its preshared key, which the "
                        "journal never holds; change it in a task without rollback_timeout" % (pub, name))
    if any(p.get('preshared_key') for p in (spec.get('set_peers') or {}).values()):
        return ("WireGuard link '%s' has a peer with a preshared key, which the journal never holds; apply it in a "
                "task without rollback_timeout" % name)
    return None


def to_journal(op):
    """`op` (applied) as plain data for the watchdog's journal: its inverse without any key."""
    why = unguardable(op)
    if why:
        raise ValidationError(why, 'rollback_timeout')
    inv = inverse(op)
    spec = inv['_spec']
    if any(spec.get('device', {}).get(k) is not None for k in ('private_key',)) \
            or any(p.get('preshared_key') for p in (spec.get('set_peers') or {}).values()):
        raise ValidationError("undoing WireGuard link '%s' needs a key, which the journal never holds" % op['key'],
                              'rollback_timeout')
    data = {'journal': 1, 'action': inv['action'], 'key': inv['key'], 'before': inv['before'], 'after': inv['after'],
            'spec': {'backend': spec.get('backend'), 'device': dict(spec.get('device') or {}),
                     'set_peers': dict((wg.b64(pub), dict((k, val) for k, val in p.items() if k != 'preshared_key'))
                                       for pub, p in (spec.get('set_peers') or {}).items()),
                     'remove_peers': [wg.b64(pub) for pub in spec.get('remove_peers') or []],
                     'link': dict(spec.get('link') or {}), 'remove_key_file': spec.get('remove_key_file')}}
    out = dict((k, val) for k, val in op.items() if not k.startswith('_'))
    out['_journal_inverse'] = data
    return out


def _from_journal(data):
    spec = dict(data['spec'])
    spec['set_peers'] = dict((wg.parse_key(pub, 'peers'), dict(p, preshared_key=None)) for pub, p in spec['set_peers'].items())
    spec['remove_peers'] = [wg.parse_key(pub, 'peers') for pub in spec['remove_peers']]
    o = base.op(KIND, data['action'], data['key'], data['before'], data['after'])
    o['_spec'] = spec
    return o


# ---------------------------------------------------------------- verify
def satisfied(op, state):
    obs = state.get(KIND).get(op['key'])
    if op['action'] == 'delete':
        return obs is None, None if obs is None else "WireGuard link '%s' is still there" % op['key']
    if obs is None:
        return False, "WireGuard link '%s' is missing" % op['key']
    after = op['after']
    for k in DEVICE_FIELDS + LINK_FIELDS:
        if k in after and after[k] is not None and obs.get(k) != after[k]:
            return False, "WireGuard link '%s' %s is %s, expected %s" % (op['key'], k, obs.get(k), after[k])
    if after.get('_peers') is not None:
        have = dict((p['public_key'], p) for p in obs['peers'])
        for pub, want in after['_peers'].items():
            if want is None and pub in have:
                return False, "WireGuard link '%s' still has peer %s" % (op['key'], pub)
            if want is not None and (pub not in have or _peers_differ(want, have[pub])):
                return False, "WireGuard link '%s' peer %s does not match" % (op['key'], pub)
        if op['action'] == 'create' and len(have) != len(after['_peers']):
            return False, "WireGuard link '%s' has %d peers, expected %d" % (op['key'], len(have), len(after['_peers']))
    return True, None


def module_result(rec, obs):
    """Extra top-level results of the wireguard module: the public key, for building meshes from facts."""
    return {'public_key': obs['public_key'] if obs else rec.get('public_key')}
