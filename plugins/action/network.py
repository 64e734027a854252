# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of seed.nodenet.network: reads `src` (a node state file) on the controller.

Without `src` it runs the module exactly as Ansible's own `normal` action would. With `src` it finds the
file the way `copy` and `template` do (the role's files/, the playbook's files/, beside the playbook),
reads it as plain data (no Jinja), merges its sections into the task's arguments and runs the module
once. The sections never pass through Ansible's templating of task arguments, which walks every entry
of a large node state on every run. Any problem with the file fails the task before the module runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.seed.nodenet.plugins.plugin_utils.node_file import NodeFileError, merge, parse


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True

    def _node_args(self):
        """The module's arguments with the file's sections in them."""
        src = self._task.args.get('src')
        if not isinstance(src, str) or not src:
            raise NodeFileError('src must be the path of a YAML or JSON file on the controller, got %r' % (src,))
        try:
            path = self._find_needle('files', src)
        except AnsibleError as e:
            raise NodeFileError('src: %s' % to_text(e.message if hasattr(e, 'message') else e))
        real = None
        try:
            real = self._loader.get_real_file(path, decrypt=True)   # an ansible-vault encrypted file too
            with open(real, 'rb') as f:
                data = f.read()
        except (AnsibleError, OSError) as e:
            raise NodeFileError('src: cannot read %s: %s' % (path, to_text(getattr(e, 'strerror', None) or e)))
        finally:
            if real is not None:
                self._loader.cleanup_tmp_file(real)
        return merge(self._task.args, parse(data, path), path)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        module_args = None
        if self._task.args.get('src') is not None:
            try:
                module_args = self._node_args()
            except NodeFileError as e:
                result.update(failed=True, msg=str(e), field='src')
                return result
        wrap_async = self._task.async_val and not self._connection.has_native_async   # as Ansible's normal action
        result = merge_hash(result, self._execute_module(module_args=module_args, task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
