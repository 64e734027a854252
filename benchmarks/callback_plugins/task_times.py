# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall time of every task of a run (what ansible.posix.profile_tasks measures, without that collection), for
benchmarks/cluster.py: written as JSON to $NODENET_TASK_TIMES at the end of the run. Not part of the collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r'''
name: task_times
type: aggregate
short_description: Wall time per task, written as JSON to $NODENET_TASK_TIMES (benchmarks only)
description: Records when each task starts; a task lasts until the next one starts or the play ends.
requirements: [NODENET_TASK_TIMES set in the environment]
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'task_times'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._rows = []
        self._current = None

    def _close(self):
        if self._current is not None:
            name, start = self._current
            self._rows.append({'task': name, 'seconds': round(time.time() - start, 3)})
            self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self._current = (task.get_name(), time.time())

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get('NODENET_TASK_TIMES')
        if path:
            with open(path, 'w') as fh:
                json.dump(self._rows, fh, indent=1)
