# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource kinds the engine knows: the only list of them. Everything else derives from it.

Adding a kind: its engine file under kinds/ (the names of kinds.base.Kind), its thin module,
its tests, and one entry in KIND_MODULES below.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Dict, List, Tuple

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import address, bond, bridge, dhcp, link, nic, route, rule
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import sysctl, vip, vlan, wireguard
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import firewall, hostname, hosts, resolver
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds.base import Kind, check

# In the order the `network` module lists its sections (and its diff groups them).
KIND_MODULES = (link, bond, vlan, bridge, wireguard, address, dhcp, vip, route, rule, sysctl, nic)
# Kinds of one mapping per node (SINGLE): the generated /etc files, then the firewall, applied last.
NODE_KIND_MODULES = (hostname, hosts, resolver, firewall)

KINDS = dict((m.KIND, check(m)) for m in KIND_MODULES + NODE_KIND_MODULES)  # type: Dict[str, Kind]
# Dependency order (stable: at equal rank, the order above).
ORDER = sorted(KINDS, key=lambda k: KINDS[k].RANK)  # type: List[str]
READERS = dict((k, m.read) for k, m in KINDS.items())
# The `network` module's list sections: [(option name, kind)].
# (A kind without a section, nic, takes its options from another kind's entries.)
SECTIONS = [(m.SECTION, m.KIND) for m in KIND_MODULES if m.SECTION]  # type: List[Tuple[str, str]]
# Its mapping sections (one per node): [(option name, kind)].
NODE_SECTIONS = [(m.SECTION, m.KIND) for m in NODE_KIND_MODULES]  # type: List[Tuple[str, str]]
# Every section in the order the diff groups them.
ALL_SECTIONS = SECTIONS + NODE_SECTIONS  # type: List[Tuple[str, str]]
# Kinds whose entries are links (they have a `name`).
LINK_KINDS = tuple(m.KIND for m in KIND_MODULES if m.LINK)
# `purge` choices -> kind, for the kinds with a purge policy (kind.PURGE: its choices).
PURGEABLE = dict((choice, m.KIND) for m in KIND_MODULES for choice in getattr(m, 'PURGE', ()))
# network_info resources read from netlink: resource -> kind.
RESOURCES = dict((m.INFO, m.KIND) for m in KIND_MODULES if m.INFO)


def section_of(kind):
    """The `network` option of a kind (the kind's own name for one that has none)."""
    return KINDS[kind].SECTION or kind if kind in KINDS else kind
