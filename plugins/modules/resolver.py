#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: resolver
short_description: Set the node's DNS resolvers (resolv.conf, or a systemd-resolved drop-in)
version_added: 0.1.0
description:
  - Declares the node's DNS resolvers, like Talos's C(ResolverConfig) rendered by its C(EtcFileController).
  - When I(path) is a symlink to systemd-resolved's stub (C(/run/systemd/resolve/stub-resolv.conf) or
    C(/run/systemd/resolve/resolv.conf)), the file is left to systemd-resolved; the module writes the drop-in
    I(dropin_path) (C(DNS=), C(Domains=)) and reloads systemd-resolved (C(resolvectl reload) or
    C(systemctl try-reload-or-restart systemd-resolved)), and returns C(manager=systemd-resolved).
  - Otherwise it writes I(path) itself, atomically (a temporary file in the same directory renamed over it), keeping
    its mode and owner. A symlink to another file is followed and its target replaced.
  - Only the options you set are managed; the others keep what the file has. The file is rewritten in a canonical
    form (a header comment, C(nameserver), C(search) and C(options) lines, then any other lines it had).
  - Other programs that may rewrite the file (NetworkManager, dhclient and dhcpcd hooks, the resolvconf package) are
    detected when I(path) is C(/etc/resolv.conf), returned in C(writers) and reported as a warning.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.files
options:
  nameservers:
    description:
      - IPv4 or IPv6 addresses of the DNS servers, in order. An empty list removes every C(nameserver) line.
      - glibc uses only the first 3; more gives a warning.
    type: list
    elements: str
  search_domains:
    description: The search list (C(search) line; C(Domains=) with systemd-resolved). An empty list removes it.
    type: list
    elements: str
  options:
    description:
      - 'resolv.conf(5) options as a mapping, for example C({ndots: 2, timeout: 2, rotate: true}).'
      - C(ndots) (0-15), C(timeout) (1-30) and C(attempts) (1-5) take a number; C(rotate), C(edns0), C(single-request),
        C(single-request-reopen), C(trust-ad), C(use-vc), C(no-tld-query), C(no-check-names), C(inet6), C(no-aaaa),
        C(no-reload), C(debug), C(ip6-bytestring), C(ip6-dotint) and C(no-ip6-dotint) are flags rendered as the bare
        word when C(true) and left out when C(false). C(_) may be written for C(-).
      - The whole set is managed; C({}) removes the C(options) line. Not applied with systemd-resolved (a warning says so).
    type: dict
  path:
    description: The resolv.conf to manage.
    type: path
    default: /etc/resolv.conf
  dropin_path:
    description: The systemd-resolved drop-in written when I(path) is resolved's stub. Its directory is created if missing.
    type: path
    default: /etc/systemd/resolved.conf.d/50-nodenet.conf
attributes:
  diff_mode:
    support: full
    description: A diff of the file (resolv.conf or the drop-in) before and after.
notes:
  - Input is validated before anything is read or written; an error names the field (C(result.field)).
  - The file is re-read just before it is replaced; if another program changed it in between, nothing is written and
    the task fails saying so. A read-only file or directory fails clearly and leaves nothing behind.
  - A I(path) that is itself a mount point (a bind-mounted C(/etc/resolv.conf), as in containers) can't be replaced
    by a rename; it is rewritten in place and a warning says so.
seealso:
  - module: seed.nodenet.hosts
  - module: seed.nodenet.hostname
  - module: seed.nodenet.network_info
'''

EXAMPLES = r'''
- name: Two resolvers, a search domain and options
  seed.nodenet.resolver:
    nameservers: [192.0.2.53, "2001:db8::53"]
    search_domains: [cluster.example.com, example.com]
    options: {ndots: 2, timeout: 2, rotate: true}

- name: Only the options; nameservers and search list are left as they are
  seed.nodenet.resolver:
    options: {edns0: true, single-request-reopen: true}
    backup: true

- name: Manage a resolv.conf for a chroot or a container image
  seed.nodenet.resolver:
    path: /srv/image/etc/resolv.conf
    nameservers: [192.0.2.53]
'''

RETURN = r'''
operations:
  description: What the run does (or in check mode would do); empty when the file is as declared.
  returned: always
  type: list
  elements: str
  sample: ["write resolver /etc/resolv.conf"]
manager:
  description: C(systemd-resolved) when I(path) is resolved's stub (the drop-in was managed), else C(file).
  returned: always
  type: str
  sample: file
path:
  description: The file that was (or in check mode would be) written - I(path), or I(dropin_path) with systemd-resolved.
  returned: always
  type: str
  sample: /etc/resolv.conf
writers:
  description: Other programs that may rewrite resolv.conf, with what shows it. Only looked for when I(path) is C(/etc/resolv.conf).
  returned: always
  type: list
  elements: dict
  sample: [{name: NetworkManager, evidence: NetworkManager is running without dns=none}]
reloaded:
  description: The command that reloaded systemd-resolved, or null when none was run.
  returned: always
  type: str
  sample: resolvectl reload
backup_file:
  description: The backup's name, when I(backup) made one.
  returned: changed and backup is true
  type: str
  sample: /etc/resolv.conf.12345.2026-01-01@12:00:00~
resolver:
  description: ResolverStatus after the run (in check mode, as it is now).
  returned: always
  type: dict
  sample: {nameservers: [192.0.2.53], search_domains: [example.com], options: {ndots: 2, rotate: true},
           manager: file, path: /etc/resolv.conf}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import runner
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import FILE_COMMON, argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import resolver


def main():
    module = AnsibleModule(argument_spec=argument_spec(resolver.OPTIONS, FILE_COMMON), supports_check_mode=True)
    runner.run_single(module, 'resolver')


if __name__ == '__main__':
    main()
