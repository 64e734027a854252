"""Offline validation of rendered Kubernetes objects (no API server can run here).

validate(obj) -> list of problems (empty when valid):
  - standard resources (core and k8s.io groups) with kubernetes-validate, strict (unknown fields refused),
    against the Kubernetes version it ships;
  - custom resources against the JSON schemas in crds/, converted from the pinned CRDs (SOURCES.md);
  - anything else is a problem ("no schema"), so nothing is skipped silently.
validate_tree(directory) checks a render_only tree: every kustomization's keys, that its local
resources/patches/values files exist, and every object in them.
"""
import glob
import json
import os

import jsonschema
import kubernetes_validate
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
K8S_VERSION = '1.34.0'
KUSTOMIZATION_KEYS = {'apiVersion', 'kind', 'resources', 'helmCharts', 'patches'}
HELM_CHART_KEYS = {'name', 'repo', 'version', 'releaseName', 'namespace', 'includeCRDs', 'valuesFile'}


def _crd_schema(obj):
    group, dummy, version = obj.get('apiVersion', '').rpartition('/')
    path = os.path.join(HERE, 'crds', '%s_%s_%s.json' % (group, obj.get('kind'), version))
    if not group or not os.path.exists(path):
        return None
    with open(path) as fh:
        return json.load(fh)


def _standard(obj):
    group = obj.get('apiVersion', '').rpartition('/')[0]
    return '.' not in group or group.endswith('.k8s.io')


def validate(obj):
    if not isinstance(obj, dict) or 'apiVersion' not in obj or 'kind' not in obj:
        return ['not a Kubernetes object: %r' % (obj,)]
    where = '%s %s' % (obj['kind'], (obj.get('metadata') or {}).get('name'))
    schema = _crd_schema(obj)
    if schema is not None:
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(obj), key=lambda e: list(e.path))
        return ['%s: %s at %s' % (where, e.message, '/'.join(str(p) for p in e.path)) for e in errors]
    if _standard(obj):
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            return ['%s: %s at %s' % (where, e.message, '/'.join(str(p) for p in e.path))]
        except kubernetes_validate.SchemaNotFoundError as e:
            return ['%s: no Kubernetes schema (%s)' % (where, e)]
        return []
    return ['%s: no schema for %s (add the CRD to tests/schemas/crds)' % (where, obj['apiVersion'])]


def load_all(path):
    with open(path) as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def validate_tree(root):
    """(problems, objects validated) for a render_only directory."""
    problems, count = [], 0
    kusts = glob.glob(os.path.join(root, '**', 'kustomization.yaml'), recursive=True)
    if not kusts:
        return ['no kustomization.yaml under %s' % root], 0
    for k in kusts:
        d = os.path.dirname(k)
        kust = load_all(k)[0]
        rel = os.path.relpath(k, root)
        if set(kust) - KUSTOMIZATION_KEYS:
            problems.append('%s: unexpected keys %s' % (rel, sorted(set(kust) - KUSTOMIZATION_KEYS)))
        if kust.get('apiVersion') != 'kustomize.config.k8s.io/v1beta1' or kust.get('kind') != 'Kustomization':
            problems.append('%s: not a Kustomization' % rel)
        local = [r for r in kust.get('resources') or [] if '://' not in r]
        local += [p['path'] for p in kust.get('patches') or []]
        for chart in kust.get('helmCharts') or []:
            if set(chart) - HELM_CHART_KEYS or not {'name', 'repo', 'version'} <= set(chart):
                problems.append('%s: helmCharts entry %s' % (rel, chart))
            local.append(chart.get('valuesFile', 'values.yaml'))
        for r in local:
            target = os.path.join(d, r)
            if not os.path.exists(target):
                problems.append('%s: %s does not exist' % (rel, r))
            elif os.path.isfile(target) and r.endswith(('objects.yaml', 'patches.yaml')):
                for obj in load_all(target):
                    problems.extend(validate(obj))
                    count += 1
        for r in kust.get('resources') or []:
            if '://' in r and not r.startswith('https://'):
                problems.append('%s: %s is not https' % (rel, r))
    return problems, count
