# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talos machine config (YAML text or documents) -> the network module's arguments.

translate(config, links=None, supported=None) -> (spec, unmapped)
  spec      {section: entries} as the network module takes them
  unmapped  [{field, reason}]: every Talos field that could not be mapped, by name
Pure: no Ansible, no kernel. `links` (status records with name, hardware_addr, ...) is only
needed to resolve deviceSelectors; `supported` ({section: option names, or None for any}) is what
this engine has - an option or section it lacks is moved to `unmapped`, never dropped silently.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos import documents, machine
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos.common import Builder, LIST_SECTIONS, item

FIELD = 'talos_config'


def parse(config, field=FIELD):
    """YAML text (one or more documents), one document (a mapping) or a list of them -> [documents]."""
    if config is None:
        return []
    if isinstance(config, dict):
        docs = [config]
    elif isinstance(config, list):
        docs = config
    elif isinstance(config, str):
        try:
            import yaml
        except ImportError:
            raise ValidationError('reading YAML text needs PyYAML on the node; pass the documents as a list instead '
                                  "(the file lookup's text through the from_yaml_all and list filters)", field)
        try:
            docs = list(yaml.safe_load_all(config))
        except yaml.YAMLError as e:
            raise ValidationError('is not valid YAML: %s' % str(e).replace('\n', ' '), field)
    else:
        raise ValidationError('must be YAML text, a document (mapping) or a list of documents', field)
    out = []
    for i, d in enumerate(docs):
        if d is None:
            continue
        if not isinstance(d, dict):
            raise ValidationError('a Talos document must be a mapping', item(field, i))
        out.append((i, d))
    return out


def uses_selectors(docs):
    """Whether any v1alpha1 interface (or bond) picks links by deviceSelector."""
    for dummy, d in docs:
        for dev in ((d.get('machine') or {}).get('network') or {}).get('interfaces') or []:
            if isinstance(dev, dict) and (dev.get('deviceSelector') or (dev.get('bond') or {}).get('deviceSelectors')):
                return True
    return False


def translate(config, links=None, supported=None, field=FIELD, origins=None):
    """origins (a dict, filled in when given): {section: [{option: Talos field} per entry]} for the
    list sections, {section: {option: Talos field}} for the others - to name the Talos field in an
    error the engine raises about a translated entry."""
    b = Builder(links)
    for i, doc in parse(config, field):
        where = item(field, i)
        kind = doc.get('kind')
        if kind is None and ('machine' in doc or doc.get('version') == 'v1alpha1'):
            machine.machine_config(b, doc, where)
        elif kind in documents.KINDS:
            if doc.get('apiVersion') not in (None, 'v1alpha1'):
                raise ValidationError("apiVersion '%s' of %s is not one this reads (v1alpha1)" % (doc['apiVersion'], kind),
                                      where + '.apiVersion')
            documents.KINDS[kind](b, doc, where)
        elif kind in documents.NOT_MAPPED:
            b.skip(where, '%s: %s' % (kind, documents.NOT_MAPPED[kind]))
        elif kind is None:
            raise ValidationError('is neither a v1alpha1 machine config (version: v1alpha1) nor a document with a kind', where)
        else:
            b.skip(where, '%s is not a network document; not read' % kind)
    spec = b.spec()
    if supported is not None:
        fit(spec, b, supported)
    if origins is not None:
        for s, val in spec.items():
            if isinstance(val, list):
                origins[s] = [dict(e.get('_from') or {}, _field=e.get('_field') or (e.get('_from') or {}).get('name'))
                              for e in val]
            elif isinstance(val, dict) and val.get('_from'):
                origins[s] = dict(val['_from'])
    return clean(spec), b.unmapped


def fit(spec, b, supported):
    """Move what this engine lacks (a section, an entry's option) to b.unmapped, naming the Talos field."""
    for section in list(spec):
        if section not in supported:
            if section == 'sysctls':
                b.skip(b.sysctl_field, 'kernel parameters need the sysctls section, which this version of the collection lacks')
            else:
                for entry in spec[section] if isinstance(spec[section], list) else [spec[section]]:
                    origin = entry.get('_from') or {}
                    b.skip(entry.get('_field') or origin.get('name') or next(iter(origin.values()), FIELD),
                           'needs the %s section, which this version of the collection lacks' % section)
            del spec[section]
            continue
        allowed = supported[section]
        if allowed is None or section not in LIST_SECTIONS:
            continue
        for entry in spec[section]:
            for opt in [k for k in entry if not k.startswith('_')]:
                if opt not in allowed:
                    b.skip(entry['_from'].get(opt) or entry.get('_field'),
                           "needs the option '%s' of the %s section, which this version of the collection lacks" % (opt, section))
                    del entry[opt]


def clean(value):
    if isinstance(value, dict):
        return dict((k, clean(val)) for k, val in value.items() if not k.startswith('_'))
    if isinstance(value, list):
        return [clean(x) for x in value]
    return value
