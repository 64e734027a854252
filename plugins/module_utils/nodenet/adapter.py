# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible at the edge: the one place that turns an engine call into exit_json / fail_json.

The engine takes plain data and returns a result dict or raises a domain error (errors.py); the
modules hand their call to run() and know nothing else about failing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any, Callable, Dict

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ApplyError, NodenetError


def failure(e: NodenetError) -> Dict[str, Any]:
    """fail_json's arguments for a domain error: the message, the field it names and, after a failed
    apply, what the rollback did."""
    out = {'msg': str(e), 'field': e.field}
    if isinstance(e, ApplyError):
        out.update(rolled_back=e.rolled_back, rollback_errors=e.rollback_errors)
    return out


def run(module: Any, call: Callable[[], Dict[str, Any]]) -> None:
    """Run call() -> result dict; exit with it (its 'warnings' become Ansible warnings), or fail with
    the domain error it raised. Never returns."""
    try:
        result = call()
    except NodenetError as e:
        module.fail_json(**failure(e))
        return
    for w in result.pop('warnings', None) or []:
        module.warn(w)
    module.exit_json(**result)
