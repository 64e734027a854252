# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole node's network in one plan: every netlink kind plus the generated /etc files.

validate everything (each entry, then cross-object rules) -> observe -> plan (+ purge)
-> check/diff -> apply with the journal -> files -> on any failure roll everything back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import json
import os
import tempfile

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import diff as diffmod
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import validate as v
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.apply import apply_plan, rollback
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, NodenetError, ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import firewall
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import lock
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common as filecommon
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import hostname as hostname_file
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import hosts as hosts_file
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import resolver as resolver_file
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import check_netns, open_netlink
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import State
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.plan import normalize, order_key, plan, summary
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS, LINK_KINDS, ORDER, PURGEABLE, READERS, SECTIONS, section_of
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos import adopt as talos_adopt

# Generated /etc files: section -> its options (the same as the single-file module's).
FILE_SECTIONS = {
    'resolver': dict(nameservers=dict(type='list', elements='str'),
                     search_domains=dict(type='list', elements='str'),
                     options=dict(type='dict'),
                     path=dict(type='path', default=resolver_file.RESOLV_CONF),
                     dropin_path=dict(type='path', default=resolver_file.DROPIN)),
    'hosts': dict(entries=dict(type='list', elements='dict', default=[],
                               options=dict(ip=dict(type='str', required=True),
                                            aliases=dict(type='list', elements='str', required=True))),
                  exclusive=dict(type='bool', default=False),
                  path=dict(type='path', default=hosts_file.HOSTS)),
    'hostname': dict(hostname=dict(type='str', required=True),
                     path=dict(type='path', default=hostname_file.HOSTNAME_FILE)),
}
FILE_ORDER = ('hostname', 'hosts', 'resolver')
# Bytes a VXLAN header adds, by the family of its underlay (the kernel's max_mtu for it).
VXLAN_HEADROOM = {4: 50, 6: 70}


def sections():
    """The netlink sections this engine can run: [(option name, kind)]."""
    return list(SECTIONS)


# ---------------------------------------------------------------- validate
def normalize_spec(spec):
    """{section: entries} -> ({kind: [records]}, {file section: params}, firewall params or None);
    raises ValidationError."""
    known = set(s for s, dummy in sections()) | set(FILE_SECTIONS) | set(['firewall'])
    for s in spec:
        if s not in known:
            raise ValidationError("unknown section; this engine has: %s" % ', '.join(sorted(known)), s)
    desired = {}
    for s, kind in sections():
        entries = spec.get(s) or []
        if not isinstance(entries, list):
            raise ValidationError('must be a list of entries', s)
        out = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise ValidationError('must be a mapping of options', '%s[%d]' % (s, i))
            entry = dict((k, val) for k, val in entry.items() if val is not None)
            entry['_where'] = '%s[%d]' % (s, i)
            out.append(entry)
        if out:
            desired[kind] = out
    records = normalize(desired)
    files = {}
    for s in FILE_ORDER:
        params = spec.get(s)
        if params is None:
            continue
        try:
            if s == 'resolver':
                resolver_file.normalize(params)
            elif s == 'hosts':
                hosts_file.normalize(params.get('entries') or [])
            else:
                hostname_file.normalize(params.get('hostname'))
        except ValidationError as e:
            raise ValidationError(e.msg, v.sub(s, e.field or ''))
        files[s] = params
    fw = None
    if spec.get('firewall') is not None:
        fw = firewall.section_params(spec['firewall'])
        firewall.normalize(fw, 'firewall')
    return records, files, fw


def _final_links(records, state, ops):
    """name -> {mtu, parent, kind, members, declared mtu} as it will be after the plan."""
    observed = state.links()
    gone = set(op['key'] for op in ops if op['kind'] == 'link' and op['action'] == 'delete')
    out = {}
    for name, obs in observed.items():
        if name not in gone:
            out[name] = {'mtu': obs.get('mtu'), 'parent': obs.get('parent'), 'kind': obs.get('kind'), 'where': None}
    for kind in LINK_KINDS:
        for rec in records.get(kind, []):
            if rec.get('state') == 'absent':
                out.pop(rec['name'], None)
                continue
            cur = out.setdefault(rec['name'], {'mtu': None, 'parent': None, 'kind': rec.get('kind', kind)})
            cur['where'] = rec.get('_where')
            cur['section_kind'] = kind
            if rec.get('mtu') is not None:
                cur['mtu'] = rec['mtu']
                cur['mtu_declared'] = True
            if rec.get('parent'):
                cur['parent'] = rec['parent']
            if rec.get('links'):
                cur['members'] = list(rec['links'])
            for k in ('local', 'remote', 'group'):
                if rec.get(k):
                    cur['family'] = ipaddress.ip_address(rec[k]).version
    return out


def check_mtus(links):
    """A link on a parent (VLAN, macvlan, VXLAN) can't have a larger MTU than the parent allows;
    a bond's members can't be declared with an MTU other than the bond's (the kernel sets theirs)."""
    for name, link in sorted(links.items()):
        parent = links.get(link.get('parent') or '')
        if link.get('mtu_declared') and parent and parent.get('mtu'):
            room = VXLAN_HEADROOM[link.get('family', 4)] if link.get('kind') == 'vxlan' else 0
            if link['mtu'] > parent['mtu'] - room:
                extra = ' minus the %d bytes of VXLAN headers' % room if room else ''
                raise ValidationError("link '%s' has MTU %d but its parent '%s' has MTU %d%s; the kernel allows at most %d"
                                      % (name, link['mtu'], link['parent'], parent['mtu'], extra, parent['mtu'] - room),
                                      v.sub(link.get('where') or '', 'mtu'))
        if link.get('section_kind') == 'bond' and link.get('members'):
            for m in link['members']:
                member = links.get(m) or {}
                if member.get('mtu_declared') and link.get('mtu') and member['mtu'] != link['mtu']:
                    raise ValidationError("link '%s' is a member of bond '%s' and is declared with MTU %d, but the bond's is %d "
                                          "(the kernel gives members the bond's MTU)" % (m, name, member['mtu'], link['mtu']),
                                          v.sub(member.get('where') or '', 'mtu'))


def _final_addresses(records, state, ops):
    """[(ip_interface, link, where or None)] after the plan."""
    gone = set(op['key'] for op in ops if op['kind'] == 'address' and op['action'] == 'delete')
    dead_links = set(op['key'] for op in ops if op['kind'] in LINK_KINDS and op['action'] == 'delete')
    out = []
    declared = set()
    for rec in records.get('address', []):
        k = KINDS['address'].key(rec)
        if rec['state'] == 'present':
            declared.add(k)
            out.append((ipaddress.ip_interface(rec['address']), rec['link'], rec.get('_where')))
        else:
            gone.add(k)
    for k, obs in state.get('address').items():
        if k not in gone and k not in declared and obs['link'] not in dead_links:
            out.append((ipaddress.ip_interface(obs['address']), obs['link'], None))
    return out


def check_addresses(addresses):
    """The same IP address on two links (link-local and loopback ones aside) is a mistake."""
    seen = {}
    for iface, link, where in addresses:
        ip = iface.ip
        if ip.is_link_local or ip.is_loopback:
            continue
        if ip in seen and seen[ip][0] != link:
            other_link, other_where = seen[ip]
            if where is None:
                where, other_where, link, other_link = other_where, where, other_link, link
            raise ValidationError("address %s would be on both '%s' and '%s' (%s); an address belongs to one link"
                                  % (ip, link, other_link, 'declared at %s' % other_where if other_where else 'present on the node'),
                                  v.sub(where or '', 'address'))
        seen.setdefault(ip, (link, where))


def check_gateways(records, state, ops, addresses):
    """A gateway must be on a subnet of some link (of the route's link, when it names one): an address's
    subnet, or a directly connected route (a route with a link and no gateway)."""
    onlink = [(iface.network, link) for iface, link, dummy in addresses]
    gone = set(op['key'] for op in ops if op['kind'] == 'route' and op['action'] == 'delete')
    for rec in records.get('route', []):
        if rec['state'] == 'present' and rec.get('link') and not rec.get('gateway') and rec['type'] == 'unicast':
            onlink.append((ipaddress.ip_network(rec['destination']), rec['link']))
    for k, obs in state.get('route').items():
        if k not in gone and obs.get('link') and not obs.get('gateway') and obs['type'] == 'unicast':
            onlink.append((ipaddress.ip_network(obs['destination']), obs['link']))
    # {(version, prefixlen): {network: set(links)}}: a gateway's subnets are found by masking it
    # once per prefix length in use, not by testing every network (thousands of routes stay fast)
    index = {}
    for net, link in onlink:
        index.setdefault((net.version, net.prefixlen), {}).setdefault(net, set()).add(link)
    for rec in records.get('route', []):
        if rec['state'] != 'present' or not rec.get('gateway'):
            continue
        gw = ipaddress.ip_address(rec['gateway'])
        if gw.version == 6 and gw.is_link_local:
            if not rec.get('link'):
                raise ValidationError("gateway %s is an IPv6 link-local address: set link too" % gw, v.sub(rec.get('_where', ''), 'link'))
            continue
        ok = []
        for (ver, plen), nets in index.items():
            if ver == gw.version:
                links = nets.get(ipaddress.ip_network('%s/%d' % (gw, plen), strict=False), ())
                ok.extend(link for link in links if not rec.get('link') or link == rec['link'])
        if not ok:
            raise ValidationError("gateway %s is not on the subnet of any address or connected route%s (declared or present); "
                                  "the kernel would refuse the route" % (gw, " of link '%s'" % rec['link'] if rec.get('link') else ''),
                                  v.sub(rec.get('_where', ''), 'gateway'))


def check_sources(records, addresses):
    """A route's source (its preferred source address) must be an address of the node."""
    local = set(iface.ip for iface, dummy, dummy2 in addresses)
    for rec in records.get('route', []):
        if rec['state'] == 'present' and rec.get('source') and ipaddress.ip_address(rec['source']) not in local:
            raise ValidationError("source %s is not an address of this node (declared or present); the kernel only "
                                  "takes one of its own addresses as a route's source" % rec['source'],
                                  v.sub(rec.get('_where', ''), 'source'))


# ---------------------------------------------------------------- purge
def managed_links(records):
    return set(rec['name'] for kind in LINK_KINDS for rec in records.get(kind, []) if rec.get('state') == 'present')


def purge_ops(records, state, purge, ops):
    """Delete operations for objects the state does not declare, by each purged kind's own policy
    (kind.purge): addresses and routes on managed links, rules that point at a table this state
    manages or name a managed link."""
    links = managed_links(records)
    planned = set((op['kind'], op['key']) for op in ops)
    out = []
    for kind in sorted(set(PURGEABLE[p] for p in purge), key=ORDER.index):
        for op in KINDS[kind].purge(records, state, links, planned, set(purge)):
            op['purge'] = True
            out.append(op)
    return out


# ---------------------------------------------------------------- files
def _file_converge(section, params, check_mode, diff_mode, run=None):
    p = dict(params)
    if section == 'resolver':
        return resolver_file.converge(p, path=p.get('path') or resolver_file.RESOLV_CONF,
                                      dropin=p.get('dropin_path') or resolver_file.DROPIN,
                                      check_mode=check_mode, diff_mode=diff_mode, run=run)
    if section == 'hosts':
        return hosts_file.converge(p, path=p.get('path') or hosts_file.HOSTS, check_mode=check_mode, diff_mode=diff_mode)
    return hostname_file.converge(p, path=p.get('path') or hostname_file.HOSTNAME_FILE,
                                  check_mode=check_mode, diff_mode=diff_mode, run=run)


def file_snapshot(section, params):
    """What undoing a file section needs: the files' contents (None: absent) and the kernel's names."""
    snap = {'section': section, 'files': {}}
    defaults = {'resolver': resolver_file.RESOLV_CONF, 'hosts': hosts_file.HOSTS, 'hostname': hostname_file.HOSTNAME_FILE}
    paths = [params.get('path') or defaults[section]]
    if section == 'resolver':
        paths.append(params.get('dropin_path') or resolver_file.DROPIN)
    for p in paths:
        snap['files'][p] = filecommon.read(p)[0]
    if section == 'hostname':
        snap['kernel'] = list(hostname_file.kernel())
    return snap


def check_writable(section, params):
    """Before anything is touched: the file's directory exists and takes a new file (the write is a
    temporary file there renamed over the old one), so a bad path fails naming <section>.path."""
    defaults = {'resolver': resolver_file.RESOLV_CONF, 'hosts': hosts_file.HOSTS, 'hostname': hostname_file.HOSTNAME_FILE}
    path = params.get('path') or defaults[section]
    d = os.path.dirname(os.path.realpath(path))
    field = v.sub(section, 'path')
    if not os.path.isdir(d):
        raise ValidationError("cannot write %s: the directory %s does not exist; nothing was changed" % (path, d), field)
    try:
        fd, tmp = tempfile.mkstemp(prefix='.nodenet-probe-', dir=d)
    except (IOError, OSError) as e:
        why = 'the directory %s takes no new files (ENOENT)' % d if e.errno == errno.ENOENT else filecommon._why(e)
        raise ValidationError("cannot write %s: %s; nothing was changed" % (path, why), field)
    os.close(fd)
    os.unlink(tmp)


def restore_files(snaps):
    """Put files (and the kernel's host name) back as snapshotted; returns error strings."""
    errors = []
    for snap in reversed(snaps):
        for path, text in snap['files'].items():
            try:
                cur = filecommon.read(path)[0]
                if cur == text:
                    continue
                if text is None:
                    os.unlink(path)
                else:
                    filecommon.write(filecommon.plan_file(path, text))
            except (NodenetError, OSError) as e:
                errors.append('restore %s: %s' % (path, e))
        if snap.get('kernel'):
            try:
                if list(hostname_file.kernel()) != snap['kernel']:
                    hostname_file._set_kernel(snap['kernel'][0], snap['kernel'][1])
            except (IOError, OSError) as e:
                errors.append('restore the kernel host name: %s' % e)
    return errors


def restore_firewall(saved, netns, run):
    """Put the firewall table back as it was listed before this run changed it; returns error strings."""
    if saved is None:
        return []
    rc, dummy, err = firewall.nft(['-j', '-f', '-'], netns, json.dumps(firewall.restore_batch(saved['listing'])), run)
    return [] if rc == 0 else ['restore the firewall table: %s' % err.strip()]


# ---------------------------------------------------------------- the pipeline
def object_diff(ops):
    """One before/after per changed object, grouped by section in dependency order, only what changes."""
    rank = dict((k, i) for i, (dummy, k) in enumerate(SECTIONS))
    out = []
    for op in sorted(ops, key=lambda o: (rank.get(o['kind'], 99), o['key'])):
        d = diffmod.op_diff(op)
        label = '%s: %s%s' % (section_of(op['kind']), op['key'], ' (purged)' if op.get('purge') else '')
        d['before_header'] = '%s (%s)' % (label, 'absent' if op['action'] == 'create' else 'before')
        d['after_header'] = '%s (%s)' % (label, 'absent' if op['action'] == 'delete' else 'after')
        out.append(d)
    return out


def converge(spec, netns=None, check_mode=False, lock_timeout=None, task='seed.nodenet.network', **kwargs):
    """_converge() under the node lock (check mode reads without it; see lock.call)."""
    return lock.call(lambda: _converge(spec, netns=netns, check_mode=check_mode, **kwargs), netns, check_mode,
                     lock_timeout, task)


def _converge(spec, netns=None, purge=(), check_mode=False, diff_mode=False, fail_after=None, run=None, on_applied=None,
              extra_operations=(), extra_diff=()):
    """Make the node match `spec` ({section: entries}). Returns a result dict; raises NodenetError.

    on_applied(journal, file_snapshots): called after a successful apply (not in check mode, not when
    nothing changed): confirm-or-revert and persistence hook in there. If it raises, everything is
    rolled back. extra_operations/extra_diff: what the caller's hook will change (persistence).
    """
    records, files, fw = normalize_spec(spec)
    for p in purge:
        if p not in PURGEABLE:
            raise ValidationError("'%s' can't be purged; choose from: %s" % (p, ', '.join(sorted(PURGEABLE))), 'purge')
    check_netns(netns)
    nl = open_netlink(netns)
    try:
        state = State(nl, READERS)
        ops = plan(records, state)
        if purge:
            ops = sorted(ops + purge_ops(records, state, purge, ops), key=order_key)
        links = _final_links(records, state, ops)
        check_mtus(links)
        if 'address' in records or 'route' in records:
            addrs = _final_addresses(records, state, ops)
            check_addresses(addrs)
            if 'route' in records:
                check_gateways(records, state, ops, addrs)
                check_sources(records, addrs)
        fresults = {}
        for s, params in files.items():
            try:
                fresults[s] = _file_converge(s, params, True, diff_mode, run)
            except NodenetError as e:
                raise type(e)(e.msg, v.sub(s, e.field or 'path'))
        for s in FILE_ORDER:
            if s in fresults and fresults[s]['changed']:
                check_writable(s, files[s])
        changed_files = [s for s in FILE_ORDER if s in fresults and fresults[s]['changed']]
        # the firewall: its batch checked in the kernel (nft -c) and the lock-out guard, nothing committed
        fw_run = firewall.command_runner(run) if run is not None else None
        fwr = firewall.converge_firewall(fw, netns, check_mode=True, diff_mode=diff_mode, run=fw_run) if fw is not None else None
        fw_changed = bool(fwr and fwr['changed'])
        result = {'changed': bool(ops) or bool(changed_files) or fw_changed or bool(extra_operations),
                  'operations': [summary(op) + (' (purge)' if op.get('purge') else '') for op in ops]
                  + ['write %s %s' % (s, fresults[s]['path']) for s in changed_files]
                  + (fwr['operations'] if fw_changed else []) + list(extra_operations)}
        warnings = []
        for s in FILE_ORDER:
            warnings.extend(fresults.get(s, {}).get('warnings', []))
        warnings.extend((fwr or {}).get('warnings', []))
        if diff_mode:
            d = object_diff(ops)
            for s in changed_files:
                fd = fresults[s]['diff']
                d.extend(fd if isinstance(fd, list) else [fd])
            if fw_changed:
                d.extend(fwr['diff'])
            result['diff'] = d + list(extra_diff)
        if check_mode or not result['changed']:
            result['warnings'] = warnings
            return result
        journal = apply_plan(nl, ops, fail_after=fail_after, state=state) if ops else []
        snaps = []
        fw_before = None
        writing = None
        try:
            for s in changed_files:
                snaps.append(file_snapshot(s, files[s]))
                writing = s
                r = _file_converge(s, files[s], False, False, run)
                writing = None
                warnings.extend(w for w in r.get('warnings', []) if w not in warnings)
            if fw_changed:
                # last: one atomic nft transaction; on a later failure the table goes back as it was listed
                listing = firewall.read_tables(netns, fw_run)[0]
                result['firewall'] = firewall.converge_firewall(fw, netns, run=fw_run)['firewall']
                fw_before = {'listing': listing}
            if on_applied is not None:
                on_applied(journal, snaps)
        except Exception as e:  # noqa: BLE001
            failed = e if isinstance(e, NodenetError) else NodenetError(str(e))
            field = None
            if writing is not None:
                # the file error's own "nothing was changed" is about that file: say once what happened to the node
                field = v.sub(writing, failed.field or 'path')
                failed = NodenetError(failed.msg.replace('; nothing was changed', ''))
            errors = rollback(nl, journal) + restore_files(snaps) + restore_firewall(fw_before, netns, fw_run)
            written = len(snaps) - (1 if writing is not None else 0)
            if errors:
                msg = "%s; ROLLBACK INCOMPLETE: %s" % (failed, '; '.join(errors))
            elif journal or written:
                msg = "%s; rolled back what was already applied (%d operation(s), %d file section(s)), the node is as it was" % (
                    failed, len(journal), written)
            else:
                msg = "%s; nothing was changed" % failed
            raise ApplyError(msg, rolled_back=not errors, rollback_errors=errors, field=field)
        result['warnings'] = warnings
        result['_journal'] = journal
        return result
    finally:
        nl.close()


# ---------------------------------------------------------------- the module
def module_spec():
    """The network module's argument spec: one list option per section the engine can run."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import agent
    spec = {}
    for s, kind in sections():
        spec[s] = dict(type='list', elements='dict')
        if _secret_options(KINDS[kind].OPTIONS):
            # Ansible masks these only if it knows them: this section gets the kind's own argument spec
            spec[s]['options'] = KINDS[kind].OPTIONS
    for s, opts in FILE_SECTIONS.items():
        spec[s] = dict(type='dict', options=opts)
    spec['firewall'] = dict(type='dict', options=firewall.ARGSPEC)
    spec['talos_config'] = dict(type='raw')
    spec.update(
        purge=dict(type='list', elements='str', choices=sorted(PURGEABLE), default=[]),
        rollback_timeout=dict(type='int'),
        confirm=dict(type='bool', default=False),
        persist=dict(type='bool'),
        persist_path=dict(type='path', default=agent.STATE_FILE),
        persist_unit=dict(type='path', default=agent.UNIT_FILE),
        persist_engine_dir=dict(type='path', default=agent.ENGINE_DIR),
    )
    return spec


def _secret_options(options, prefix=''):
    """Dotted names of the no_log options of an argument spec (nested suboptions included)."""
    out = []
    for name, o in options.items():
        if o.get('no_log'):
            out.append(prefix + name)
        if o.get('options'):
            out.extend(_secret_options(o['options'], prefix + name + '.'))
    return out


def _inline_secrets(spec):
    """[(field, section)] of secrets given inline in the state (e.g. wireguard[0].private_key)."""
    found = []
    for s, kind in sections():
        names = _secret_options(KINDS[kind].OPTIONS)
        for i, entry in enumerate(spec.get(s) or []):
            for name in names:
                head, dummy, tail = name.partition('.')
                if not tail and entry.get(head) is not None:
                    found.append('%s[%d].%s' % (s, i, head))
                for j, sub in enumerate(entry.get(head) or [] if tail else []):
                    if isinstance(sub, dict) and sub.get(tail) is not None:
                        found.append('%s[%d].%s[%d].%s' % (s, i, head, j, tail))
    return found


def _strip(value):
    if isinstance(value, dict):
        return dict((k, _strip(val)) for k, val in value.items() if val is not None)
    if isinstance(value, list):
        return [_strip(x) for x in value]
    return value


def run_module(module):
    """Entry point of seed.nodenet.network (and seed.nodenet.confirm's logic through confirm)."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import agent
    p = module.params
    netns = p.get('netns')
    names = [s for s, dummy in sections()] + list(FILE_SECTIONS) + ['firewall']
    spec = dict((s, _strip(p[s])) for s in names if p.get(s) is not None)
    try:
        if p['confirm']:
            extra = [k for k in names + ['rollback_timeout', 'persist', 'talos_config'] if p.get(k) is not None]
            if extra:
                raise ValidationError('confirm: true only confirms the change a previous task applied; '
                                      'declare %s in a separate task' % ', '.join(extra), 'confirm')
            if module.check_mode:
                cur = agent.pending(netns)
                module.exit_json(changed=cur is not None, confirmed=False,
                                 msg='check mode: %s' % ('a change is waiting for confirmation' if cur else 'nothing to confirm'))
            r = agent.confirm(netns, wait=p.get('lock_timeout'))
            module.exit_json(changed=r['confirmed'], **r)
        spec, talos_unmapped, talos_secrets = talos_adopt.adopt(p.get('talos_config'), spec, netns)
        if talos_secrets:
            module.no_log_values.update(talos_secrets)
        timeout = p.get('rollback_timeout')
        if timeout is not None:
            v.integer(timeout, 'rollback_timeout', 1, 86400)
            if spec.get('wireguard'):
                raise ValidationError("can't guard a WireGuard change: undoing it needs the private key, which is never "
                                      "written to the journal; apply the wireguard section in a task without rollback_timeout",
                                      'rollback_timeout')
            if spec.get('firewall'):
                raise ValidationError("the confirm-or-revert watchdog does not restore the firewall (yet); apply the "
                                      "firewall section in a task without rollback_timeout (its own lock-out guard "
                                      "refuses a policy that would cut this connection)", 'rollback_timeout')
        if p.get('persist') and spec.get('firewall'):
            raise ValidationError("the boot-time unit does not apply the firewall (yet); apply the firewall section in a "
                                  "task without persist", 'persist')
        if p.get('persist'):
            secrets = _inline_secrets(spec)
            if secrets:
                raise ValidationError("persist: true would write this key to %s; keep it in a file on the node "
                                      "(private_key_file) instead" % p['persist_path'], secrets[0])
        pchanges = []
        if p.get('persist') is not None:
            pchanges = agent.persist_plan(p['persist'], spec, netns, p['purge'], p['persist_path'], p['persist_unit'],
                                          p['persist_engine_dir'])
        pops = ['%s %s' % ('remove' if after is None else 'write', path) for path, dummy, after in pchanges]
        pdiff = [{'before_header': 'persist: %s' % path, 'after_header': 'persist: %s' % path,
                  'before': before if isinstance(before, str) and path != p['persist_engine_dir'] else '',
                  'after': after or ''} for path, before, after in pchanges]
        armed = {}

        def on_applied(journal, snaps):
            if pchanges:
                snaps.append({'section': 'persist', 'files': dict(
                    (path, before) for path, before, dummy in pchanges
                    if path != p['persist_engine_dir'] and not os.path.islink(path) and before != p['persist_unit'])})
                agent.persist_apply(p['persist'], pchanges, p['persist_unit'], p['persist_engine_dir'], run=module.run_command)
            if timeout and (journal or snaps):
                armed.update(agent.arm(journal, snaps, timeout, netns, run=module.run_command))

        fail_after = os.environ.get('NODENET_TEST_FAIL_AFTER')
        result = converge(spec, netns=netns, purge=p['purge'], check_mode=module.check_mode, diff_mode=module._diff,
                          fail_after=int(fail_after) if fail_after else None, run=module.run_command,
                          on_applied=on_applied, extra_operations=pops, extra_diff=pdiff, lock_timeout=p.get('lock_timeout'))
    except ApplyError as e:
        module.fail_json(msg=str(e), field=e.field, rolled_back=e.rolled_back, rollback_errors=e.rollback_errors)
    except NodenetError as e:
        module.fail_json(msg=str(e), field=e.field)
    for w in talos_adopt.warnings(talos_unmapped) + result.pop('warnings', []):
        module.warn(w)
    if p.get('talos_config') is not None:
        result['talos_unmapped'] = talos_unmapped
    result.pop('_journal', None)
    result['rollback'] = armed or None
    module.exit_json(**result)
