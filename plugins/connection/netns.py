# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: netns
short_description: Run tasks inside a lab node (its own network, UTS and mount namespaces)
version_added: 0.1.0
author:
  - seed.nodenet developers (@seed-nodenet)
description:
  - Runs every command, and every file transfer, inside a B(lab node) made by the role C(seed.nodenet.lab), that is a
    named network namespace (C(ip netns)) plus the node's own UTS namespace (its host name) and mount namespace.
  - In the node's mount namespace C(/etc) is an overlay of the machine's C(/etc) (so C(/etc/hosts),
    C(/etc/resolv.conf), C(/etc/hostname) and anything else written under C(/etc) are the node's own) and C(/run)
    is a private tmpfs. Every other file is the machine's own, so the controller's Python (a virtual environment
    with pyroute2) works inside the node.
  - A playbook written for real nodes runs unchanged on lab nodes; only the inventory differs
    (C(ansible_connection=seed.nodenet.netns)); modules see the node's links, addresses, routes, host name and files,
    never the machine's.
  - Commands are run through C(nsenter) (util-linux) as the user running Ansible (root, as namespaces need it).
    C(become) works as with the C(local) connection.
options:
  netns_name:
    description:
      - The node's network namespace, as C(ip netns list) shows it (C(/run/netns/<name>)).
      - Defaults to the host's address (C(ansible_host), else the inventory name).
    type: str
    vars:
      - name: ansible_netns_name
  netns_dir:
    description:
      - The directory holding the node's bound namespace files C(mnt) (mount namespace) and C(uts) (UTS namespace).
      - Defaults to C(/run/nodenet/ns/<netns_name>), where the role C(seed.nodenet.lab) puts them.
      - When the files are missing the connection fails instead of running in the machine's own mount namespace,
        so a task can never write the machine's own C(/etc) by mistake.
    type: path
    vars:
      - name: ansible_netns_dir
  nsenter_path:
    description: The C(nsenter) program, a path or a name looked up in C(PATH).
    type: str
    default: nsenter
    vars:
      - name: ansible_netns_nsenter
  become_success_timeout:
    description:
      - Seconds to wait for become to succeed (as for the C(local) connection).
    type: int
    default: 10
    vars:
      - name: ansible_netns_become_success_timeout
  become_strip_preamble:
    description: Strip internal become output preceding command execution (as for the C(local) connection).
    type: bool
    default: true
    vars:
      - name: ansible_netns_become_strip_preamble
extends_documentation_fragment:
  - connection_pipelining
notes:
  - Needs root on the controller (entering namespaces).
  - The remote user is ignored, as for the C(local) connection.
seealso:
  - name: The lab role
    description: Builds lab nodes and writes an inventory that uses this connection.
    link: https://example.invalid/seed/nodenet/roles/lab/README.md
'''

EXAMPLES = r'''
# inventory.yml written by the role seed.nodenet.lab
all:
  vars:
    ansible_connection: seed.nodenet.netns
  children:
    control_plane:
      hosts:
        cp1: {ansible_netns_name: nodenet-lab-cp1}
'''

import os
import shlex
import shutil
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.connection.local import Connection as LocalConnection
from ansible.utils.display import Display

display = Display()

NETNS_RUN_DIR = '/run/netns'
NS_DIR = '/run/nodenet/ns'


class Connection(LocalConnection):
    """The local connection, with every command wrapped in nsenter into the node's namespaces."""

    transport = 'seed.nodenet.netns'
    has_pipelining = True

    def _node(self):
        name = self.get_option('netns_name') or self._play_context.remote_addr
        if not name or '/' in name or name in ('.', '..'):
            raise AnsibleConnectionFailure("seed.nodenet.netns: '%s' is not a network namespace name (set ansible_netns_name)" % name)
        netns = os.path.join(NETNS_RUN_DIR, name)
        nsdir = self.get_option('netns_dir') or os.path.join(NS_DIR, name)
        files = {'net': netns, 'mnt': os.path.join(nsdir, 'mnt'), 'uts': os.path.join(nsdir, 'uts')}
        missing = [path for path in files.values() if not os.path.exists(path)]
        if missing:
            raise AnsibleConnectionFailure(
                "seed.nodenet.netns: '%s' is not a lab node: %s missing (build the node with the role seed.nodenet.lab; "
                "a node needs its network namespace and its mount and UTS namespaces bound in %s)"
                % (name, ', '.join(missing), nsdir))
        return name, files

    def _nsenter(self):
        dummy, files = self._node()
        nsenter = self.get_option('nsenter_path') or 'nsenter'
        found = shutil.which(nsenter)
        if not found:
            raise AnsibleConnectionFailure("seed.nodenet.netns: '%s' not found (Debian/Ubuntu package util-linux)" % nsenter)
        return [found, '--net=%s' % files['net'], '--uts=%s' % files['uts'], '--mount=%s' % files['mnt'], '--']

    def _connect(self):
        if not self._connected:
            name, dummy = self._node()
            display.vvv(u"ESTABLISH NETNS CONNECTION TO NODE {0}".format(name), host=self._play_context.remote_addr)
        return super(Connection, self)._connect()

    def exec_command(self, cmd, in_data=None, sudoable=True):
        """Run `cmd` (a shell command line) inside the node; become and pipelining as for the local connection."""
        executable = '/bin/sh'
        wrapped = ' '.join(shlex.quote(a) for a in self._nsenter() + [executable, '-c', to_text(cmd)])
        return super(Connection, self).exec_command(wrapped, in_data=in_data, sudoable=sudoable)

    def _run(self, args, stdin, stdout, what):
        p = subprocess.Popen(self._nsenter() + args, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
        dummy, err = p.communicate()
        if p.returncode != 0:
            raise AnsibleError("seed.nodenet.netns: %s failed (exit status %d): %s"
                               % (what, p.returncode, to_native(err).strip()))

    def put_file(self, in_path, out_path):
        """Copy a controller file to `out_path` as the node sees it (its own /etc and /run)."""
        super(LocalConnection, self).put_file(in_path, out_path)  # pylint: disable=bad-super-call
        display.vvv(u"PUT {0} TO {1}".format(in_path, out_path), host=self._play_context.remote_addr)
        b_in = to_bytes(in_path, errors='surrogate_or_strict')
        if not os.path.exists(b_in):
            raise AnsibleFileNotFound("file or module does not exist: %s" % to_native(in_path))
        with open(b_in, 'rb') as src:
            self._run(['/bin/sh', '-c', 'cat > "$1"', 'sh', out_path], src, subprocess.DEVNULL,
                      "copying to '%s' in the node" % out_path)

    def fetch_file(self, in_path, out_path):
        """Copy `in_path` as the node sees it to a controller file."""
        super(LocalConnection, self).fetch_file(in_path, out_path)  # pylint: disable=bad-super-call
        display.vvv(u"FETCH {0} TO {1}".format(in_path, out_path), host=self._play_context.remote_addr)
        with open(to_bytes(out_path, errors='surrogate_or_strict'), 'wb') as dst:
            self._run(['cat', '--', in_path], subprocess.DEVNULL, dst, "reading '%s' in the node" % in_path)
