#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: hostname
short_description: Set the node's host name (kernel and hostname file)
version_added: 0.1.0
description:
  - Declares the node's host name, like Talos's C(HostnameConfig).
  - Sets the kernel's host name (the first label) and domain name (the rest of an FQDN; cleared for a short name)
    in the node's UTS namespace, and writes the name as given to the hostname file.
  - The file is written atomically (a temporary file in the same directory renamed over it), keeping its mode and
    owner; when systemd runs as PID 1 and I(path) is C(/etc/hostname), it is set through C(hostnamectl set-hostname --static).
  - The name is checked (RFC 1123) before anything is touched.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.files
options:
  hostname:
    description:
      - A short name (C(node1)) or an FQDN (C(node1.example.com)). Labels of 1-63 lowercase letters, digits and
        C(-), not starting or ending with C(-); 253 characters at most.
    type: str
    required: true
  path:
    description: The hostname file to write.
    type: path
    default: /etc/hostname
attributes:
  diff_mode:
    support: full
    description: A diff of the hostname file and of the kernel's host and domain names.
notes:
  - A read-only file or directory fails clearly; if the kernel refuses the name after the file was written, the file
    is put back.
  - Names in C(/etc/hosts) are not changed; use M(seed.nodenet.hosts) for that.
seealso:
  - module: seed.nodenet.hosts
  - module: seed.nodenet.network_info
'''

EXAMPLES = r'''
- name: FQDN - the kernel gets host name node1 and domain name example.com
  seed.nodenet.hostname:
    hostname: node1.example.com

- name: Short name, keeping a backup of /etc/hostname
  seed.nodenet.hostname:
    hostname: node1
    backup: true
'''

RETURN = r'''
operations:
  description: What the run does (or in check mode would do); empty when the file is as declared.
  returned: always
  type: list
  elements: str
  sample: ["write hostname /etc/hostname"]
hostname:
  description: HostnameStatus after the run (in check mode, as it is now).
  returned: always
  type: dict
  sample: {hostname: node1, domainname: example.com, fqdn: node1.example.com}
kernel_changes:
  description: Which of the kernel's names differ(ed) from the declared ones.
  returned: always
  type: list
  elements: str
  sample: [hostname, domainname]
method:
  description: How the file is written - C(file) or C(hostnamectl).
  returned: always
  type: str
  sample: file
path:
  description: The hostname file.
  returned: always
  type: str
  sample: /etc/hostname
backup_file:
  description: The backup's name, when I(backup) made one.
  returned: changed and backup is true
  type: str
  sample: /etc/hostname.12345.2026-01-01@12:00:00~
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import runner
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import FILE_COMMON, argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import hostname


def main():
    module = AnsibleModule(argument_spec=argument_spec(hostname.OPTIONS, FILE_COMMON), supports_check_mode=True)
    runner.run_single(module, 'hostname')


if __name__ == '__main__':
    main()
