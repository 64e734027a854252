# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node state file (the network module's `src`), read on the controller: parsed as plain data and
merged into the task's arguments, or refused with a message naming `src` and the file.

Pure code, no Ansible: the action plugin (plugins/action/network.py) finds the file and calls these."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import yaml

# The network module's sections, in its documentation's order. A copy of the engine registry's section
# names (module_utils/nodenet/registry.py ALL_SECTIONS): importing the engine on the controller costs
# about 0.4 s a task, the very cost `src` is there to save. tests/unit/test_node_file.py fails when the
# two lists disagree.
SECTIONS = ('links', 'bonds', 'vlans', 'bridges', 'wireguard', 'addresses', 'vips', 'routes', 'rules', 'sysctls',
            'hostname', 'hosts', 'resolver', 'firewall')

# PyYAML's C loader when libyaml is there (several times faster on a node of thousands of entries)
LOADER = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


class NodeFileError(Exception):
    """A node file that can't be used; the message names src and the file."""


def parse(data, path):
    """The file's bytes as plain data: JSON for a .json file, YAML (safe, no tags, no Jinja) otherwise."""
    try:
        text = data.decode('utf-8') if isinstance(data, bytes) else data
        if path.lower().endswith('.json'):
            return json.loads(text)
        return yaml.load(text, Loader=LOADER)  # nosec B506 - a safe loader (CSafeLoader or SafeLoader)
    except UnicodeDecodeError as e:
        raise NodeFileError('src: %s is not UTF-8 text (%s)' % (path, e))
    except ValueError as e:
        raise NodeFileError('src: %s is not valid JSON: %s' % (path, e))
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None)
        where = ' (line %d, column %d)' % (mark.line + 1, mark.column + 1) if mark is not None else ''
        problem = getattr(e, 'problem', None) or str(e)
        raise NodeFileError('src: %s is not valid YAML%s: %s' % (path, where, problem))


def merge(args, state, path):
    """The module's arguments: the task's (without src) and the file's sections.
    A section in both places, an unknown key, or a file that is not a mapping is an error."""
    if not isinstance(state, dict):
        kind = 'empty' if state is None else 'a %s' % type(state).__name__.replace('str', 'string')
        raise NodeFileError('src: %s must hold a mapping of sections (%s), but it is %s'
                            % (path, ', '.join(SECTIONS), kind))
    unknown = sorted(str(k) for k in state if k not in SECTIONS)
    if unknown:
        raise NodeFileError('src: %s has unknown key%s %s; a node file holds only the sections %s (netns, purge, '
                            'rollback_timeout, persist and the other options of how to apply it stay in the task)'
                            % (path, 's' if len(unknown) > 1 else '', ', '.join(unknown), ', '.join(SECTIONS)))
    both = [k for k in SECTIONS if state.get(k) is not None and args.get(k) is not None]
    if both:
        raise NodeFileError('%s given both in the task and in src (%s); give each section in one place'
                            % (', '.join(both), path))
    out = dict((k, v) for k, v in args.items() if k != 'src')
    out.update((k, v) for k, v in state.items() if v is not None)
    return out
