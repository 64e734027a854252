# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talos machine configs -> the network module's arguments: the shared builder.

Pure functions, no Ansible and no kernel. The builder collects one entry per link (documents
about the same link merge), the addresses, routes, rules, files and firewall, remembers which
Talos field each option came from, and lists every field it could not map (`unmapped`), so
nothing is dropped silently.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError

# Talos's DefaultRouteMetric: a route without a metric gets this one.
DEFAULT_ROUTE_METRIC = 1024
# Link sections of the network module, in the order links are declared.
LINK_SECTIONS = ('links', 'bonds', 'vlans', 'bridges', 'wireguard')
LIST_SECTIONS = LINK_SECTIONS + ('addresses', 'vips', 'routes', 'rules')
_DURATION = re.compile(r'(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)')
_UNITS = {'ns': 1e-9, 'us': 1e-6, 'ms': 1e-3, 's': 1, 'm': 60, 'h': 3600}


def sub(where, name):
    return '%s.%s' % (where, name) if where else name


def item(where, i):
    return '%s[%d]' % (where, i)


def check_known(doc, known, where, what):
    """Talos decodes strictly: an unknown field is an error naming it."""
    if not isinstance(doc, dict):
        raise ValidationError('must be a mapping (%s)' % what, where)
    for k in doc:
        if k not in known:
            raise ValidationError("unknown field '%s' of %s; Talos's fields are: %s" % (k, what, ', '.join(sorted(known))),
                                  sub(where, k))


def as_list(value, where):
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError('must be a list', where)
    return value


def duration(value, where):
    """A Go duration ("25s", "1m30s", "500ms") -> whole seconds."""
    if isinstance(value, bool) or not isinstance(value, str) or not value:
        raise ValidationError("'%s' is not a duration: write it as Talos does, e.g. 25s or 1m30s" % (value,), where)
    pos, total = 0, 0.0
    for m in _DURATION.finditer(value):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(value):
        raise ValidationError("'%s' is not a duration: write it as Talos does, e.g. 25s or 1m30s" % value, where)
    return int(round(total))


def number(value, where):
    """Talos writes some numbers as strings ("100" for a table or a rule's priority)."""
    if isinstance(value, bool):
        raise ValidationError("'%s' is not a number" % value, where)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


class Builder(object):
    """Accumulates the network module's sections from Talos documents."""

    def __init__(self, links=None):
        self.links = {}          # name -> entry (with '_section', '_from': {option: talos field})
        self.order = []
        self.lists = dict((s, []) for s in ('addresses', 'vips', 'routes', 'rules'))
        self.resolver = {}
        self.hosts = []
        self.hostname = None
        self.firewall = None
        self.sysctls = {}
        self.sysctl_field = None
        self.unmapped = []
        self.observed = links    # [{name, hardware_addr, ...}] for deviceSelectors; None: not read

    # -- what could not be mapped
    def skip(self, field, reason):
        self.unmapped.append({'field': field, 'reason': reason})

    # -- links
    def link(self, name, section, where, kind=None):
        """The entry for link `name` (created on first use). Two documents may describe one link
        (a LinkConfig and an EthernetConfig); two different kinds of link can't share a name."""
        cur = self.links.get(name)
        if cur is None:
            cur = {'name': name, '_section': section, '_from': {'name': where}}
            if kind:
                cur['kind'] = kind
            self.links[name] = cur
            self.order.append(name)
        elif section != 'links' and cur['_section'] not in ('links', section):
            raise ValidationError("link '%s' is declared as a %s at %s and again here" % (
                name, cur['_section'].rstrip('s'), cur['_from']['name'], ), where)
        elif section != 'links':
            cur['_section'] = section
        if kind and cur.get('kind') not in (None, kind):
            raise ValidationError("link '%s' is declared with kind %s at %s" % (name, cur['kind'], cur['_from']['name']), where)
        if kind:
            cur['kind'] = kind
        return cur

    def set(self, entry, option, value, field):
        """Set one option; the same option set twice to different values is an error naming both."""
        if value is None:
            return
        if option in entry and entry[option] != value:
            raise ValidationError("'%s' of link '%s' is already %r (from %s); here it is %r" % (
                option, entry['name'], entry[option], entry['_from'].get(option), value), field)
        entry[option] = value
        entry['_from'][option] = field

    def add(self, section, entry, field):
        entry = dict((k, val) for k, val in entry.items() if val is not None)
        entry['_from'] = dict((k, sub(field, k)) for k in entry)
        entry['_field'] = field
        self.lists[section].append(entry)

    # -- the result
    def spec(self):
        out = {}
        for name in self.order:
            entry = self.links[name]
            out.setdefault(entry['_section'], []).append(entry)
        for s, entries in self.lists.items():
            if entries:
                out[s] = entries
        if self.resolver:
            out['resolver'] = self.resolver
        if self.hosts:
            out['hosts'] = {'entries': self.hosts}
        if self.hostname:
            out['hostname'] = {'hostname': self.hostname['hostname'], '_from': self.hostname['_from']}
        if self.firewall:
            out['firewall'] = self.firewall
        if self.sysctls:
            out['sysctls'] = [{'settings': dict(self.sysctls)}]   # one entry of the sysctls section
        return out
