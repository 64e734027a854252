# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network module's `talos_config` and network_info's `export: talos`, joined to the engine.

Everything Talos-specific is in importer/export (pure); this file only asks the engine what it
has (sections and options), reads the node's links when a deviceSelector needs them, and merges
the translated sections with the ones the task gives directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.talos import export, importer

LIST_MERGE = ('links', 'bonds', 'vlans', 'bridges', 'wireguard', 'addresses', 'vips', 'routes', 'rules')


def supported_options():
    """{section: option names (None: any)} of the network module as this engine has it."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import KINDS
    out = {}
    for s, kind in network.sections():
        out[s] = set(KINDS[kind].OPTIONS)
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.registry import NODE_SECTIONS
    for s, dummy in NODE_SECTIONS:     # resolver, hosts, hostname, firewall: one mapping each
        out[s] = None
    return out


def observed_links(netns):
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import info
    return info.gather(netns, ['links'])['links']


def secrets(spec):
    """The WireGuard keys in a translated spec (for the caller to mask in every output)."""
    out = []
    for entry in spec.get('wireguard') or []:
        if entry.get('private_key'):
            out.append(entry['private_key'])
        for p in entry.get('peers') or []:
            if p.get('preshared_key'):
                out.append(p['preshared_key'])
    return out


def adopt(talos_config, spec, netns=None, controller=False):
    """Translate `talos_config` and merge it into `spec` (the sections given directly).
    Returns (spec, unmapped, secrets). A list section given both ways gets both lists; a
    single section (resolver, hosts, hostname, firewall) given both ways is an error.
    controller: translating away from the node (a filter): deviceSelectors can't be resolved."""
    if talos_config is None:
        return spec, [], []
    docs = importer.parse(talos_config)
    links = observed_links(netns) if importer.uses_selectors(docs) and not controller else None
    origins = {}
    talos_spec, unmapped = importer.translate(talos_config, links=links, supported=supported_options(), origins=origins)
    out = dict(spec)
    where = {}     # 'links[3]' -> the Talos origin of that merged entry
    for s, val in talos_spec.items():
        if s in LIST_MERGE:
            have = list(out.get(s) or [])
            for i, origin in enumerate(origins.get(s) or []):
                where['%s[%d]' % (s, len(have) + i)] = origin
            out[s] = have + val
        elif out.get(s) is not None:
            raise ValidationError("%s is given both here and in talos_config; give it once" % s, s)
        else:
            out[s] = val
            where[s] = origins.get(s) or {}
    if not controller:     # validation reads key files: only on the node
        check(out, where)
    return out, unmapped, secrets(talos_spec)


def check(spec, where):
    """Validate the merged sections now, so an error about a translated entry names its Talos field
    (talos_config[2].mtu) as well as the section's (links[3].mtu)."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network
    try:
        network.normalize_spec(spec)
    except ValidationError as e:
        field = e.field or ''
        head, dot, opt = field.partition('.')
        origin = where.get(head)
        if origin is None:
            raise
        opt_root = opt.split('.')[0].split('[')[0]
        talos = origin.get(opt_root) or origin.get('_field') or origin.get('name')
        raise ValidationError('%s (from %s)' % (e.msg, talos), field)


def warnings(unmapped):
    return ['talos_config: %s was not applied: %s' % (u['field'], u['reason']) for u in unmapped]


def export_talos(facts):
    """network_info's export: talos -> {talos_config: YAML text, talos_documents: [...], talos_not_exported: [...]}."""
    docs, notes = export.export(facts)
    return {'talos_config': export.dump(docs), 'talos_documents': docs, 'talos_not_exported': notes}
