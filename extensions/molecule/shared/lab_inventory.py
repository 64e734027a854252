#!/usr/bin/env python
"""Inventory script for molecule: the scenario's lab inventory (/run/nodenet/lab/<lab>/inventory.yml,
written by the role seed.nodenet.lab at create) in the script format, so converge and verify see the
lab's host variables (nodenet_lab_links, a node's vars). Empty until the lab exists.
The lab's name is derived as in lab_name.yml."""
import hashlib
import json
import os
import sys


def main():
    scenario = os.environ.get('MOLECULE_SCENARIO_DIRECTORY', '')
    name = os.environ.get('NODENET_MOLECULE_LAB') or 'mol' + hashlib.sha1(scenario.encode('utf-8')).hexdigest()[:8]
    out = {'_meta': {'hostvars': {}}}
    if '--host' in sys.argv:
        print('{}')
        return
    try:
        with open(os.path.join('/run/nodenet/lab', name, 'inventory.yml')) as f:
            inv = json.loads(''.join(line for line in f if not line.startswith('#')))
    except (IOError, OSError, ValueError):
        print(json.dumps(out))
        return
    out['all'] = {'vars': inv['all'].get('vars', {})}
    for group, data in inv['all'].get('children', {}).items():
        out[group] = {'hosts': sorted(data.get('hosts', {}))}
        for host, hv in data.get('hosts', {}).items():
            out['_meta']['hostvars'].setdefault(host, {}).update(hv)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
