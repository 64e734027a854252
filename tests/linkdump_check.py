"""Shared by the kernel and VM tiers: the engine's own link-dump decoder (kinds/linkdump.py)
against pyroute2's generic decoder on the real links of a namespace. Every LinkStatus record
(network_info `links`) must come out the same."""
import subprocess
import uuid

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import link, linkdump
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import open_netlink

# (name, `ip link add` arguments) in creation order; the parents are veth ends, which every kernel
# here has. A kind the kernel lacks is reported and left out (the checks below name what they need).
LINKS = [
    ('p0', ['type', 'veth', 'peer', 'name', 'p1']),
    ('px', ['type', 'veth', 'peer', 'name', 'pxpeer']),           # its peer moves to another namespace
    ('br0', ['type', 'bridge', 'stp_state', '1']),
    ('mv0', ['link', 'p0', 'type', 'macvlan', 'mode', 'private']),
    ('mv1', ['link', 'p0', 'type', 'macvlan', 'mode', 'vepa']),
    ('vxl0', ['type', 'vxlan', 'id', '100', 'local', '192.0.2.1', 'remote', '192.0.2.2', 'dstport', '4789', 'dev', 'p0']),
    ('vxl1', ['type', 'vxlan', 'id', '101', 'group', 'ff05::101', 'dev', 'p0', 'dstport', '4790', 'nolearning']),
    ('ipip0', ['type', 'ipip', 'local', '192.0.2.1', 'remote', '192.0.2.9']),   # a 4-byte hardware address
    ('d0', ['type', 'dummy']),
    ('vl0', ['link', 'p0', 'type', 'vlan', 'id', '42']),
    ('vl1', ['link', 'p0', 'type', 'vlan', 'protocol', '802.1ad', 'id', '43']),
    ('bo0', ['type', 'bond', 'mode', 'active-backup', 'miimon', '100']),
    ('bp0', ['type', 'veth', 'peer', 'name', 'bp1']),
    ('wg0', ['type', 'wireguard']),
]
# What the decoder must do itself (the common kinds) and what goes to pyroute2 (a bond's data,
# addresses that are not MACs), where the kernel has the kind.
OWN = ('lo', 'p0', 'p1', 'px', 'br0', 'mv0', 'vxl0', 'vxl1', 'd0', 'vl0', 'vl1', 'wg0', 'bp0')
PYROUTE2 = ('bo0', 'ipip0')


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def make_links(netns):
    """Create LINKS in `netns` and wire them up; returns (made, the other namespace to delete)."""
    other = 'nnt-%s' % uuid.uuid4().hex[:10]
    sh('ip', 'netns', 'add', other)
    made, missing = [], []
    for name, args in LINKS:
        r = sh('ip', '-n', netns, 'link', 'add', name, *args, check=False)
        if r.returncode == 0:
            made.append(name)
        else:
            missing.append('%s (%s)' % (name, r.stderr.strip()))
    if missing:
        print('links this kernel could not make, left out of the comparison: %s' % '; '.join(missing))
    n = ['ip', '-n', netns, 'link', 'set']
    sh(*n, 'pxpeer', 'netns', other)
    sh(*n, 'p1', 'master', 'br0')
    sh(*n, 'br0', 'up')
    sh(*n, 'p1', 'up')
    if sh(*n, 'br0', 'type', 'bridge', 'vlan_filtering', '1', check=False).returncode == 0:
        sh('bridge', '-n', netns, 'vlan', 'add', 'dev', 'p1', 'vid', '7', 'pvid', 'untagged')
        made.append('vlan_filtering')
    if 'bo0' in made:
        sh(*n, 'bp0', 'master', 'bo0')
    sh(*n, 'p0', 'mtu', '9000', 'up')
    sh(*n, 'px', 'alias', 'uplink to rack 3')
    sh(*n, 'px', 'address', '02:00:00:00:00:aa', 'txqueuelen', '5000')
    return made, other


def compare(netns, made, monkeypatch):
    """Assert the decoder's records equal pyroute2's and that it decoded the common kinds itself."""
    nl = open_netlink(netns)
    try:
        ours = link.read(nl)
        used = linkdump.links(nl, own=('bond', 'bridge', 'vlan'))
        with monkeypatch.context() as m:
            m.setattr(linkdump, 'links', lambda nl, own=None, index=None: nl.get_links())
            theirs = link.read(nl)
    finally:
        nl.close()
    assert sorted(ours) == sorted(theirs)
    for name in sorted(theirs):
        diff = dict((k, (ours[name].get(k), theirs[name].get(k))) for k in set(ours[name]) | set(theirs[name])
                    if ours[name].get(k) != theirs[name].get(k) or (k in ours[name]) != (k in theirs[name]))
        assert not diff, 'link %s: {field: (decoder, pyroute2)} %s' % (name, diff)
    # fields of every kind there, so a decoder that lost one can't pass on a node without it
    assert ours['p0']['peer'] == 'p1' and ours['p0']['mtu'] == 9000 and ours['px']['peer'] is None
    assert ours['px']['alias'] == 'uplink to rack 3' and ours['px']['hardware_addr'] == '02:00:00:00:00:aa'
    assert ours['px']['txqueuelen'] == 5000 and ours['p1']['master'] == 'br0' and ours['br0']['ports'] == ['p1']
    assert ours['p1']['bridge_port']['stp_state'] is not None and ours['br0']['stp'] is True
    if 'mv0' in made:
        assert ours['mv0']['macvlan_mode'] == 'private' and ours['mv0']['parent'] == 'p0'
    if 'vxl1' in made:
        assert ours['vxl0']['remote'] == '192.0.2.2' and ours['vxl0']['local'] == '192.0.2.1'
        assert ours['vxl1']['group'] == 'ff05::101' and ours['vxl1']['learning'] is False and ours['vxl1']['port'] == 4790
    if 'vl1' in made:
        assert ours['vl0']['vlan_id'] == 42 and ours['vl1']['protocol'] == '802.1ad' and ours['vl1']['parent'] == 'p0'
    if 'bo0' in made:
        assert ours['bp0']['master'] == 'bo0' and ours['bp0']['bond_port']['mii_status'] is not None
    if 'vlan_filtering' in made:
        assert {'vid': 7, 'pvid': True, 'untagged': True} in ours['p1']['bridge_port']['vlans']
    fast = dict((m['index'], isinstance(m, linkdump.Attrs)) for m in used)
    for name in OWN:
        if name in ours:
            assert fast[ours[name]['index']], '%s was decoded by pyroute2, not the engine' % name
    for name in PYROUTE2:
        if name in ours:
            assert not fast[ours[name]['index']], name
    return ours


def pyroute2_rules(nl):
    """RuleStatus records as rule.read() made them with pyroute2's decoder (before the engine
    decoded the rule dump itself): the reference for the rule decoder."""
    import socket
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import rule
    out = {}
    for fam in (socket.AF_INET, socket.AF_INET6):
        for m in nl.get_rules(family=fam):
            rec = {'family': 'inet4' if fam == socket.AF_INET else 'inet6',
                   'priority': m.get('priority') or 0,
                   'action': rule.ACTION_NAMES.get(m['action'], str(m['action']))}
            if m.get('src') is not None or m['src_len']:
                rec['src'] = '%s/%d' % (m.get('src'), m['src_len'])
            if m.get('dst') is not None or m['dst_len']:
                rec['dst'] = '%s/%d' % (m.get('dst'), m['dst_len'])
            if rec['action'] == 'unicast':
                rec['table'] = m.get('table') or m['table']
            if m.get('iifname'):
                rec['iif_name'] = m.get('iifname')
            if m.get('oifname'):
                rec['oif_name'] = m.get('oifname')
            if m.get('fwmark') is not None:
                rec['fw_mark'] = m.get('fwmark')
                if m.get('fwmask') is not None and m.get('fwmask') != 0xFFFFFFFF:
                    rec['fw_mask'] = m.get('fwmask')
            out[rule.key(rec)] = rec
    return out
