# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options every link kind the engine creates shares (kinds/netdev.py COMMON_OPTIONS).
    DOCUMENTATION = r'''
options:
  name:
    description: Link name (1-15 bytes, no whitespace, C(/) or C(:)).
    type: str
    required: true
  state:
    description:
      - C(present) creates the link when it is missing and sets the options given; C(absent) removes it.
      - Removing a master releases its ports (they stay, down, as the kernel leaves them); links that sit on a removed
        link (VLANs on it) go with it, as the kernel removes them.
    type: str
    choices: [present, absent]
    default: present
  up:
    description: Administrative state; C(true) sets the link up, C(false) down.
    type: bool
  mtu:
    description: MTU in bytes, 68-65535, and within the range the link's driver reports (checked before apply).
    type: int
  hardware_addr:
    description: Unicast MAC address, for example C(02:00:00:00:00:01). Case and C(-) separators are normalised.
    type: str
'''
