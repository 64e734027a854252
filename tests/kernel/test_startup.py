"""Start-up: what a `network` task imports when it has nothing heavy to do.

Every task pays for what its module imports. A `network` task with nothing declared, one whose links,
addresses and routes are already in place (run and check mode), and network_info must not load what
only some sections need: `cryptography` (a WireGuard key to derive or generate), PyYAML (Talos export),
pyroute2 (a change to make), the Talos translators (`talos_config`) and the firewall engine beyond its
options (a `firewall` section). network_info's `nics` resource is the exception: it reads ethtool settings
through pyroute2. Run in a fresh interpreter, in the test's own namespace and run directory.
"""
import json
import os
import subprocess
import sys

PKG = 'ansible_collections.seed.nodenet.plugins.module_utils.nodenet'
# what such a task must not import: top-level packages, and the engine's own packages/modules
HEAVY = ('cryptography', 'yaml', 'pyroute2')
FEATURE_ONLY = ('talos', 'firewall', 'nft.compile', 'nft.nftjson', 'nft.status', 'nft.guard')

CODE = r'''
import json, sys
PKG, HEAVY, FEATURE_ONLY, ns = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import network, wg
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.args import argument_spec


def loaded(engine_too=True):
    names = [m for m in sys.modules if m.split('.')[0] in HEAVY]
    if engine_too:
        names += [m for m in sys.modules for f in FEATURE_ONLY if m == PKG + '.' + f or m.startswith(PKG + '.' + f + '.')]
    return sorted(names)


spec = argument_spec(network.module_spec())     # what the module builds before it runs


def params(**given):
    p = dict((k, o.get('default')) for k, o in spec.items())
    p.update(given, netns=ns)
    return p


state = dict(links=[{'name': 'p0', 'up': True, 'mtu': 1400}], addresses=[{'address': '10.62.0.1/24', 'link': 'p0'}],
             routes=[{'destination': '172.28.0.0/24', 'gateway': '10.62.0.254'}])
out = {'changed': [network.run(params())['changed'], network.run(params(**state))['changed'],
                   network.run(params(**state), check_mode=True)['changed']]}
out['after_network'] = loaded()
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.info import ALL, gather   # network_info's engine
# every resource but nics: a NIC's ethtool settings are read through pyroute2's ethtool support
out['links'] = sorted(gather(ns, resources=[r for r in ALL if r != 'nics']))
out['after_info'] = loaded(engine_too=False)
wg.public_key(b'\x01' * 32)                    # the check itself sees an import when there is one
out['after_key'] = loaded()
print(json.dumps(out))
'''


def test_tasks_with_nothing_heavy_to_do_import_nothing_heavy(netns, tmp_path):
    def ip(*args):
        subprocess.run(('ip', '-n', netns) + args, check=True, capture_output=True)
    ip('link', 'add', 'p0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'p1')
    ip('link', 'set', 'p0', 'up')
    ip('link', 'set', 'p1', 'up')
    ip('addr', 'add', '10.62.0.1/24', 'dev', 'p0')
    ip('route', 'add', '172.28.0.0/24', 'via', '10.62.0.254', 'proto', 'static')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), NODENET_RUN_DIR=str(tmp_path / 'run'))
    p = subprocess.run([sys.executable, '-c', CODE, PKG, json.dumps(HEAVY), json.dumps(FEATURE_ONLY), netns],
                       capture_output=True, text=True, check=False, env=env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out['changed'] == [False, False, False], 'the node was not as declared'
    assert 'links' in out['links'] and 'addresses' in out['links']
    assert out['after_network'] == [], 'a network task with nothing heavy to do imported these'
    assert out['after_info'] == [], 'network_info imported these'
    assert 'cryptography' in out['after_key']
