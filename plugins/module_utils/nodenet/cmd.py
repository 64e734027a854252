# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host without Ansible: run a command (the confirm-or-revert watchdog and the boot unit use this where
a module would pass its run_command: run(argv, data=None) -> (rc, stdout, stderr)), and whether systemd
is PID 1."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess
from typing import Optional, Sequence, Tuple, Union


def local_run(argv: Sequence[str], data: Optional[Union[str, bytes]] = None,
              binary_data: bool = False) -> Tuple[int, str, str]:
    """Run argv here (in this thread's namespaces), stdin from data; never raises for a non-zero exit."""
    if isinstance(data, bytes):
        data = data.decode('utf-8')
    try:
        # no AnsibleModule here (the watchdog, the boot unit): its run_command is not available
        p = subprocess.run(list(argv), input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # pylint: disable=ansible-bad-function
                           universal_newlines=True, check=False)
    except OSError as e:
        return 127, '', str(e)
    return p.returncode, p.stdout, p.stderr


def systemd_pid1() -> bool:
    """Is systemd the init system here (PID 1)? Then units, systemd-run and hostnamectl are the way."""
    try:
        with open('/proc/1/comm') as f:
            return f.read().strip() == 'systemd'
    except (IOError, OSError):
        return False
