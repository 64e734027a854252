# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter arguments as plain data: the one place the collection's filter plugins turn Ansible's
lazy and tagged containers into the dicts and lists the pure code under plugin_utils expects."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def plain(value, strings=False):
    """Ansible's lazy/tagged containers as plain dicts and lists (with strings=True, tagged strings
    as plain str too, for code that dumps them as YAML)."""
    if isinstance(value, dict):
        return dict((str(k), plain(v, strings)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(v, strings) for v in value]
    if strings and isinstance(value, str):
        return str(value)
    return value


def nodes(value):
    """The cluster's node list (the cluster roles' `nodes` argument), checked for its shape."""
    out = plain(value)
    if not isinstance(out, list) or not all(isinstance(n, dict) and n.get('name') for n in out):
        raise AnsibleFilterError('the nodes must be a list of mappings with name, role and network')
    return out
