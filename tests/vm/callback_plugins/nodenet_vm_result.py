# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: write each task result as JSON to a file, for tests/vm."""

from __future__ import annotations

DOCUMENTATION = """
    name: nodenet_vm_result
    type: notification
    short_description: write task results as JSON to a file (seed.nodenet tests only)
    description:
      - Used by tests/vm/conftest.py. Writes a JSON list with one record
        C({"task", "host", "status", "result"}) per task result to the file named by
        the E(NODENET_VM_RESULT_FILE) environment variable, rewritten after every
        result, so the file is complete as soon as ansible-playbook exits.
    requirements:
      - enabled in callbacks_enabled
"""

import json
import os

from ansible.plugins.callback import CallbackBase
from ansible.vars.clean import module_response_deepcopy, strip_internal_keys


def _plain(result):
    """A JSON-ready copy of a task result (ansible-core >= 2.19 and older)."""
    data = getattr(result, "result", None)
    if data is None:  # ansible-core < 2.19
        data = result._result  # pylint: disable=protected-access
    return strip_internal_keys(module_response_deepcopy(data))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "nodenet_vm_result"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("NODENET_VM_RESULT_FILE")
        self._records = []

    def _record(self, status, result):
        if not self._path:
            return
        self._records.append({
            "task": result.task.get_name(),
            "host": result.host.get_name(),
            "status": status,
            "result": _plain(result),
        })
        tmp = self._path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self._records, f, default=str)
        os.replace(tmp, self._path)

    def v2_runner_on_ok(self, result):
        self._record("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record("failed", result)

    def v2_runner_on_skipped(self, result):
        self._record("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._record("unreachable", result)
