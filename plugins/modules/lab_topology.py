#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: lab_topology
short_description: Build or remove a lab of nodes, switches and cables made of Linux namespaces
version_added: 0.1.0
description:
  - The engine of the role C(seed.nodenet.lab); use the role (or C(playbooks/lab.yml)) rather than this module.
  - A B(node) is a network namespace C(<name>-<node>) with its own UTS namespace (host name) and mount namespace,
    in which C(/etc) is an overlay of the machine's C(/etc) and C(/run) a tmpfs; the connection plugin
    C(seed.nodenet.netns) runs tasks inside it.
  - A B(switch) is a network namespace C(<name>-sw-<switch>) holding the bridge C(br0); a B(cable) is a veth pair
    from a node's link to a port of that bridge.
  - The optional B(uplink) (namespace C(<name>-uplink)) routes for the nodes, answers DNS for I(domain) (dnsmasq)
    and masquerades towards C(<name>-internet), a namespace with the addresses 203.0.113.1 and 2001:db8:ffff::1.
    The lab never gets a link into the machine's own (root) network namespace.
  - The optional B(controller) (C(<name>-controller)) is a namespace cabled to a switch, to run C(ansible-playbook)
    over SSH (I(ssh=true) starts sshd in every node).
  - Writes the inventory C(/run/nodenet/lab/<name>/inventory.yml) (and C(inventory-ssh.yml) with I(ssh)).
  - Only creation configures the inside of a node (links up, the addresses given here, a default route via the
    uplink, C(/etc/hostname), C(/etc/hosts), C(/etc/resolv.conf)); later runs leave what a playbook changed there.
  - What was made is recorded in C(/run/nodenet/lab/<name>/lab.json); namespaces the description no longer has, and
    with I(state=absent) all of them, are removed with their processes and mounts.
author:
  - seed.nodenet developers (@seed-nodenet)
options:
  name:
    description: The lab's name, the prefix of every namespace it makes (lowercase letters, digits, C(-); 40 at most).
    type: str
    default: nodenet-lab
  domain:
    description: The DNS domain of the nodes (C(<node>.<domain>) in their C(/etc/hosts) and in the uplink's DNS).
    type: str
    default: lab.example
  switches:
    description:
      - The switches, each C({name, mtu}) (or just a name). Default one switch C(sw0).
    type: list
    elements: raw
  nodes:
    description:
      - The nodes, each C({name, groups, links, vars}). C(groups) are the inventory groups (default C([workers]);
        the cluster roles read C(control_plane) and C(workers)). C(links) are its cables, each
        C({name, switch, mtu, addresses}) (default one link C(eth0) on the first switch, no address). C(vars) are
        copied into the node's host variables in the inventory.
    type: list
    elements: dict
    default: []
  uplink:
    description:
      - C({switch, addresses, mtu, nat, dns}) - the uplink's addresses on that switch (the nodes' default gateway
        and DNS server when they have an address in the same subnet), C(nat) (default true) and C(dns) (default true).
    type: dict
  controller:
    description: C({switch, addresses, mtu}) - a namespace to run C(ansible-playbook) from, over SSH.
    type: dict
  python:
    description:
      - The Python the nodes run modules with (C(ansible_python_interpreter) in the inventory). Nodes share the
        machine's files, so the controller's own Python (with pyroute2) is the usual choice.
    type: str
  ssh:
    description: Start sshd in every node (key-only root login with a key generated for the lab).
    type: bool
    default: false
  state:
    description: C(present) builds or updates the lab; C(absent) removes everything it made.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Reports what would be made or removed.
  diff_mode:
    support: none
    description: Nothing to diff; C(changes) lists what was made or removed.
  platform:
    support: full
    platforms: posix
    description: Linux, as root, on the controller (it runs on C(localhost)).
requirements:
  - iproute2, util-linux (C(nsenter), C(unshare)), nftables for NAT, dnsmasq for DNS, openssh-server for I(ssh).
seealso:
  - name: The lab role
    description: Describes the topology variable and the names it makes.
    link: https://example.invalid/seed/nodenet/roles/lab/README.md
'''

EXAMPLES = r'''
- name: Two nodes on one switch with an uplink
  seed.nodenet.lab_topology:
    name: mylab
    nodes:
      - {name: cp1, groups: [control_plane], links: [{name: eth0, switch: sw0, addresses: [192.168.50.11/24]}]}
      - {name: w1, groups: [workers], links: [{name: eth0, switch: sw0, addresses: [192.168.50.21/24]}]}
    uplink: {switch: sw0, addresses: [192.168.50.1/24]}

- name: Remove it
  seed.nodenet.lab_topology:
    name: mylab
    state: absent
'''

RETURN = r'''
changes:
  description: What was made or removed (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["namespace mylab-sw-sw0", "node cp1", "cable cp1:eth0 - sw0"]
inventory:
  description: The inventory of the nodes (connection C(seed.nodenet.netns)).
  returned: when I(state=present)
  type: str
  sample: /run/nodenet/lab/mylab/inventory.yml
inventory_ssh:
  description: The same inventory with C(ansible_connection=ssh), when I(ssh=true).
  returned: when I(state=present)
  type: str
namespaces:
  description: Every network namespace of the lab.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import lab
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', default='nodenet-lab'),
            domain=dict(type='str', default='lab.example'),
            switches=dict(type='list', elements='raw'),
            nodes=dict(type='list', elements='dict', default=[]),
            uplink=dict(type='dict'),
            controller=dict(type='dict'),
            python=dict(type='str'),
            ssh=dict(type='bool', default=False),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    state = params.pop('state')
    try:
        result = lab.converge(params, state=state, check_mode=module.check_mode)
    except NodenetError as e:
        module.fail_json(msg=str(e), field=e.field)
    for warning in result.pop('warnings'):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
