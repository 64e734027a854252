#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: hosts
short_description: Static host entries in /etc/hosts
version_added: 0.1.0
description:
  - Declares static host entries, like Talos's C(StaticHostConfig) rendered by its C(EtcFileController).
  - By default the entries live in a managed block (C(# BEGIN seed.nodenet managed) ... C(# END seed.nodenet managed))
    and the rest of the file is left alone. The block is added at the end of the file, replaced in place, or removed
    when I(entries) is empty.
  - With I(exclusive=true) the module owns the whole file - the managed block plus the lines that are always kept,
    that is lines of loopback addresses, localhost names (C(localhost), C(ip6-localhost), ...) and lines naming the node's own host
    name.
  - The file is written atomically (a temporary file in the same directory renamed over it), keeping its mode and owner.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.files
options:
  entries:
    description: The host entries. Entries with the same I(ip) are merged into one line.
    type: list
    elements: dict
    default: []
    suboptions:
      ip:
        description: IPv4 or IPv6 address.
        type: str
        required: true
      aliases:
        description: Host names for the address (RFC 1123), the canonical name first.
        type: list
        elements: str
        required: true
  exclusive:
    description: Manage the whole file, keeping only the localhost lines and the node's own host name besides I(entries).
    type: bool
    default: false
  path:
    description: The hosts file to manage.
    type: path
    default: /etc/hosts
attributes:
  diff_mode:
    support: full
    description: A diff of the file before and after.
notes:
  - Input is validated before anything is read or written; an error names the field (C(result.field)), for example
    C(entries[1].aliases[0]).
  - The file is re-read just before it is replaced; if another program changed it in between, nothing is written and
    the task fails saying so. A read-only file or directory fails clearly and leaves nothing behind.
seealso:
  - module: seed.nodenet.hostname
  - module: seed.nodenet.resolver
'''

EXAMPLES = r'''
- name: Every node of the cluster, in a managed block
  seed.nodenet.hosts:
    entries:
      - {ip: 192.0.2.10, aliases: [node1.example.com, node1]}
      - {ip: 192.0.2.11, aliases: [node2.example.com, node2]}
      - {ip: "2001:db8::10", aliases: [node1.example.com, node1]}

- name: The whole file (localhost lines and this node's name are kept)
  seed.nodenet.hosts:
    exclusive: true
    backup: true
    entries:
      - {ip: 192.0.2.100, aliases: [api.cluster.example.com]}

- name: Remove the managed block
  seed.nodenet.hosts:
    entries: []
'''

RETURN = r'''
operations:
  description: What the run does (or in check mode would do); empty when the file is as declared.
  returned: always
  type: list
  elements: str
  sample: ["write hosts /etc/hosts"]
path:
  description: The file managed.
  returned: always
  type: str
  sample: /etc/hosts
entries:
  description: The entries in the managed block, normalised (same IPs merged).
  returned: always
  type: list
  elements: dict
  sample: [{ip: 192.0.2.10, aliases: [node1.example.com, node1]}]
backup_file:
  description: The backup's name, when I(backup) made one.
  returned: changed and backup is true
  type: str
  sample: /etc/hosts.12345.2026-01-01@12:00:00~
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import runner
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import FILE_COMMON, argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import hosts


def main():
    module = AnsibleModule(argument_spec=argument_spec(hosts.OPTIONS, FILE_COMMON), supports_check_mode=True)
    runner.run_single(module, 'hosts')


if __name__ == '__main__':
    main()
