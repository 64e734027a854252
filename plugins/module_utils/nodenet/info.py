# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Status resources (network_info): the same records the planner compares."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import firewall
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common as files_common
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import hostname as hostname_file
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import hosts as hosts_file
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import resolver as resolver_file
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import dhcp as dhcp_kind
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import vip as vip_kind
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import check_netns, open_netlink
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.observe import State
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS, READERS, RESOURCES

ALL = ('links', 'addresses', 'routes', 'rules', 'node_addresses', 'resolvers', 'hostname', 'hosts', 'wireguard', 'firewall', 'vips',
       'sysctls', 'nics', 'dhcp')
KEEPALIVED_CONF = '/etc/keepalived/keepalived.conf'
# Read from files and the UTS namespace, not netlink (the same whatever the network namespace).
NOT_NETLINK = ('resolvers', 'hostname', 'hosts', 'firewall')   # firewall: read with nft inside netns


def _sorted(kind, records):
    recs = list(records.values())
    if kind == 'link':
        return sorted(recs, key=lambda r: r['index'])
    if kind == 'address':
        return sorted(recs, key=lambda r: (r['link_index'], r['family'], r['address']))
    if kind in ('wireguard', 'dhcp'):
        return sorted(recs, key=lambda r: r.get('name') or r['link'])
    if kind == 'wireguard':
        return sorted(recs, key=lambda r: r['name'])
    if kind == 'route':
        return sorted(recs, key=lambda r: (r['family'], r['table'], r['destination'], r['metric']))
    return sorted(recs, key=lambda r: (r['family'], r['priority']))


def node_addresses(state):
    """Talos NodeAddress: current (global addresses of up links) and default (those on the default route's link)."""
    links = state.links()
    current = [a['address'] for a in _sorted('address', state.get('address'))
               if a['scope'] == 'global' and links.get(a['link'], {}).get('up') and a['link'] != 'lo']
    default_links = [r['link'] for r in _sorted('route', state.get('route'))
                     if r['destination'] in ('0.0.0.0/0', '::/0') and r['type'] == 'unicast' and r['table'] == 254]
    default = []
    for fam in ('inet4', 'inet6'):
        for a in _sorted('address', state.get('address')):
            if a['family'] == fam and a['scope'] == 'global' and a['link'] in default_links:
                default.append(a['address'])
                break
    return {'current': current, 'default': default}


def hosts_status(path=hosts_file.HOSTS):
    """StaticHostStatus: the entries of the hosts file's managed block (what the `hosts` section and
    Talos's StaticHostConfig write), in file order; the file's other lines are not listed."""
    text, _st = files_common.read(path, 'hosts_file')
    _before, block, _after = hosts_file.split_block(text)
    entries = []
    for line in block or []:
        words = line.split('#', 1)[0].split()
        if len(words) > 1:
            entries.append({'ip': words[0], 'aliases': words[1:]})
    return {'path': path, 'managed': block is not None, 'entries': entries}


def gather(netns=None, resources=ALL, resolv_conf=resolver_file.RESOLV_CONF, run=None, keepalived_conf=KEEPALIVED_CONF,
           hosts_path=hosts_file.HOSTS):
    """The status resources. `run` (the module's run_command, see firewall.command_runner) reads
    the firewall; without it the firewall is left out."""
    check_netns(netns)
    out = {}
    if all(res in NOT_NETLINK for res in resources):
        nl = state = None
    else:
        nl = open_netlink(netns)
    try:
        if nl is not None:
            state = State(nl, READERS)
        for res in resources:
            if res == 'resolvers':
                out[res] = resolver_file.status(resolv_conf)
            elif res == 'hostname':
                out[res] = hostname_file.status()
            elif res == 'hosts':
                out[res] = hosts_status(hosts_path)
            elif res == 'firewall':
                if run is not None:
                    out[res] = firewall.gather_status(netns, run)
            elif res == 'vips':
                out[res] = vip_kind.status(state, keepalived_conf)
            elif res == 'node_addresses':
                out[res] = node_addresses(state)
            elif hasattr(KINDS[RESOURCES[res]], 'info_records'):
                out[res] = KINDS[RESOURCES[res]].info_records(state)
            else:
                kind = RESOURCES[res]
                out[res] = _sorted(kind, state.get(kind))
        if nl is not None:   # what a DHCP client configured is marked with its operator
            dhcp_kind.mark(state, out.get('addresses'), out.get('routes'))
        return out
    finally:
        if nl is not None:
            nl.close()
