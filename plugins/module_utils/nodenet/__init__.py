# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""seed.nodenet's engine. Run from Ansible's module zip, its modules are compiled once and the code kept
(see bytecode.py); imported from files, nothing happens here."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import bytecode as _bytecode

_bytecode.install(__name__, __spec__)
