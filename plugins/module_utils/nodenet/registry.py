# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource kinds the engine knows, in dependency order."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import address, bond, bridge, link, route, rule, vip, vlan, wireguard

KINDS = dict((m.KIND, m) for m in (link, bond, vlan, bridge, wireguard, address, vip, route, rule))
ORDER = sorted(KINDS, key=lambda k: KINDS[k].RANK)
READERS = dict((k, m.read) for k, m in KINDS.items())

# Link status records carry the details of the link kinds other files manage.
link.DETAILS.update(bond=bond.details, vlan=vlan.details, bridge=bridge.details)
link.SLAVE_DETAILS.update(bond=bond.port_details, bridge=bridge.port_details)
link.PORT_VLANS = bridge.port_vlans
