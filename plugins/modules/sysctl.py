#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: sysctl
short_description: Set kernel parameters (sysctls), per network namespace for net.*
version_added: 0.1.0
description:
  - Sets kernel parameters, like Talos's C(machine.sysctls), and optionally writes them to a file in
    C(/etc/sysctl.d/) so the machine applies them at boot.
  - Values are compared as the kernel shows them in C(/proc/sys) (runs of whitespace count as one separator,
    C(true)/C(false) are C(1)/C(0)), so a second run reports C(changed=false).
  - The C(net.*) parameters belong to a network namespace; every other one (C(kernel.*), C(vm.*), C(fs.*)) belongs
    to the whole machine. With I(netns) set, a parameter outside C(net.*) is refused before anything is changed,
    because writing it from inside the namespace would change the host. Without I(netns), any parameter may be set.
  - A parameter that does not exist (a typo, or a kernel module such as C(br_netfilter) that is not loaded) or that
    is read-only in that namespace fails naming it, before anything is changed. If writing one of several values
    fails, or the kernel shows another value afterwards, the values already written are put back.
author:
  - seed.nodenet developers (@seed-nodenet)
extends_documentation_fragment:
  - seed.nodenet.common
options:
  settings:
    description:
      - Parameter name to value. Names use dots (C(net.ipv4.ip_forward)) or, when a part has a dot of its own such as
        a VLAN link, slashes (C(net/ipv4/conf/eth0.100/rp_filter)).
      - A value is a number, a string, a boolean or a list (joined with spaces, e.g. C([1024, 65000]) for
        C(net.ipv4.ip_local_port_range)).
    type: dict
    default: {}
  preset:
    description:
      - A named set of settings, applied before I(settings) (which override it).
      - C(kubernetes) - C(net.ipv4.ip_forward=1), C(net.ipv6.conf.all.forwarding=1); where C(br_netfilter) is loaded
        C(net.bridge.bridge-nf-call-iptables=1) and C(net.bridge.bridge-nf-call-ip6tables=1); where C(nf_conntrack) is
        loaded kube-proxy's conntrack timeouts (C(nf_conntrack_tcp_timeout_established=86400),
        C(nf_conntrack_tcp_timeout_close_wait=3600)) and, in the machine's own namespace only, C(nf_conntrack_max)
        of 32768 per CPU, at least 131072. A preset key the kernel does not have is left out without failing.
    type: str
    choices: [kubernetes]
  persist:
    description:
      - Also write these settings to I(persist_file), which C(systemd-sysctl) (or C(sysctl --system)) applies at
        boot. The file is this module's own - it holds exactly the settings given, and is replaced when they change.
      - The boot-time tools apply it to the machine's own network namespace, not to I(netns).
    type: bool
    default: false
  persist_file:
    description: The file I(persist) writes; an absolute path ending in C(.conf).
    type: path
    default: /etc/sysctl.d/90-nodenet.conf
notes:
  - The M(seed.nodenet.network) module takes the same options as entries of its C(sysctls) section.
  - M(seed.nodenet.network_info) shows the main networking parameters as its C(sysctls) resource.
seealso:
  - module: seed.nodenet.network
  - module: seed.nodenet.network_info
'''

EXAMPLES = r'''
- name: What a Kubernetes node needs, kept across reboots
  seed.nodenet.sysctl:
    preset: kubernetes
    persist: true

- name: Loose reverse-path filtering and bigger socket buffers
  seed.nodenet.sysctl:
    settings:
      net.ipv4.conf.all.rp_filter: 2
      net.core.rmem_max: 16777216
      net.ipv4.ip_local_port_range: [1024, 65000]

- name: Forwarding inside a lab node's namespace
  seed.nodenet.sysctl:
    netns: node1
    settings:
      net.ipv4.ip_forward: true
      net/ipv4/conf/eth0.100/rp_filter: 0
'''

RETURN = r'''
sysctl:
  description: Every setting of the task as the kernel shows it after the run (in check mode, as it is now); null
    for a preset parameter the kernel does not have.
  returned: always
  type: dict
  sample: {net.ipv4.ip_forward: '1', net.ipv6.conf.all.forwarding: '1'}
operations:
  description: The planned operations, in order.
  returned: always
  type: list
  elements: str
  sample: ["modify sysctl net.ipv4.ip_forward", "create sysctl file /etc/sysctl.d/90-nodenet.conf"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.kinds import sysctl
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.runner import run_single


def main():
    module = AnsibleModule(argument_spec=argument_spec(sysctl.OPTIONS), supports_check_mode=True)
    run_single(module, sysctl.KIND)


if __name__ == '__main__':
    main()
