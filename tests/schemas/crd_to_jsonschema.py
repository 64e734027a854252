"""Convert CustomResourceDefinitions to JSON schemas for offline validation of rendered objects.

    python tests/schemas/crd_to_jsonschema.py OUTDIR CRD.yaml [CRD.yaml ...]

For every served version of every CRD in the files it writes OUTDIR/<group>_<kind>_<version>.json:
the version's openAPIV3Schema as JSON Schema (draft 2020-12), with Kubernetes' extensions made
explicit so a validator enforces what the API server would:
  - x-kubernetes-int-or-string    -> anyOf integer/string
  - nullable: true                -> null allowed
  - x-kubernetes-preserve-unknown-fields, or an object without properties -> unknown keys allowed;
    otherwise unknown keys are refused (the API server's strict field validation refuses them too)
  - apiVersion/kind pinned to the CRD's; metadata left to Kubernetes' own rules
Descriptions are dropped (they are most of the bytes). CEL rules (x-kubernetes-validations) are
not evaluated. The sources of the files in crds/ are in SOURCES.md.
"""
import json
import os
import sys

import yaml

DROP = ('description', 'x-kubernetes-validations', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys',
        'x-kubernetes-map-type', 'x-kubernetes-embedded-resource', 'example', 'externalDocs')


def convert(node):
    if isinstance(node, list):
        return [convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in DROP:
            continue
        if k in ('properties', 'patternProperties', 'definitions'):
            out[k] = dict((name, convert(sub)) for name, sub in v.items())
        elif k == 'x-kubernetes-int-or-string':
            continue
        elif k == 'x-kubernetes-preserve-unknown-fields':
            continue
        elif k == 'nullable':
            continue
        else:
            out[k] = convert(v)
    if node.get('x-kubernetes-int-or-string'):
        out.pop('type', None)
        extra = dict((k, out.pop(k)) for k in list(out) if k in ('pattern', 'anyOf'))
        alts = [{'type': 'integer'}, {'type': 'string'}]
        if 'anyOf' in extra:
            alts = extra['anyOf']
        out['anyOf'] = [dict(a, **({'pattern': extra['pattern']} if a.get('type') == 'string' and 'pattern' in extra else {}))
                        for a in alts]
    if node.get('type') == 'object' and 'properties' in node and not node.get('x-kubernetes-preserve-unknown-fields') \
            and 'additionalProperties' not in node:
        out['additionalProperties'] = False
    if node.get('nullable'):
        if 'type' in out:
            out['type'] = [out['type'], 'null'] if isinstance(out['type'], str) else out['type'] + ['null']
        if 'enum' in out:
            out['enum'] = list(out['enum']) + [None]
    return out


def main(outdir, paths):
    for path in paths:
        with open(path) as fh:
            for crd in yaml.safe_load_all(fh):
                if not crd or crd.get('kind') != 'CustomResourceDefinition':
                    continue
                spec = crd['spec']
                group, kind = spec['group'], spec['names']['kind']
                for ver in spec['versions']:
                    if not ver.get('served', True):
                        continue
                    schema = convert(ver['schema']['openAPIV3Schema'])
                    props = schema.setdefault('properties', {})
                    props['apiVersion'] = {'const': '%s/%s' % (group, ver['name'])}
                    props['kind'] = {'const': kind}
                    props['metadata'] = {'type': 'object'}
                    schema['required'] = sorted(set(schema.get('required', []) + ['apiVersion', 'kind', 'metadata']))
                    schema['additionalProperties'] = False
                    schema['$schema'] = 'https://json-schema.org/draft/2020-12/schema'
                    name = '%s_%s_%s.json' % (group, kind, ver['name'])
                    with open(os.path.join(outdir, name), 'w') as out:
                        json.dump(schema, out, sort_keys=True, separators=(',', ':'))
                        out.write('\n')
                    print(name)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2:])
