"""Integration tier: tests/integration/playbooks/wireguard.yml run with ansible-playbook -vvv --diff.

Every WireGuard task of the play (key generated on the node, key from a variable, peers from
registered facts, idempotent check and run, a preshared key change, network_info, bad keys) runs
with full verbosity and diffs; then no private or preshared key may appear anywhere in stdout or
stderr, in base64 or hex, whole or as a 20-character piece. The key generated on the node is not a
module parameter, so Ansible's own no_log masking can't hide it: only our redaction keeps it out.
"""
import base64
import binascii
import os
import shutil
import subprocess
import uuid

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import wg
from testlib import remove_wireguard_nodes
from testlib import sh

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, '.venv', 'bin')

pytestmark = pytest.mark.skipif(shutil.which('wireguard-go') is None, reason='wireguard-go is needed: run scripts/setup')


def pieces(b64key, width=20):
    forms = [b64key, binascii.hexlify(base64.b64decode(b64key)).decode()]
    return set(f[i:i + width] for f in forms for i in range(len(f) - width + 1))


@pytest.fixture
def lab():
    tag = uuid.uuid4().hex[:6]
    ns = ['nnwg-%s-a' % tag, 'nnwg-%s-b' % tag]
    names = ['wga%s' % tag, 'wgb%s' % tag]
    for n in ns:
        sh('ip', 'netns', 'add', n)
    try:
        sh('ip', '-n', ns[0], 'link', 'add', 've0', 'type', 'veth', 'peer', 'name', 've0', 'netns', ns[1])
        for n, addr in zip(ns, ('192.0.2.1/24', '192.0.2.2/24')):
            sh('ip', '-n', n, 'address', 'add', addr, 'dev', 've0')
            sh('ip', '-n', n, 'link', 'set', 've0', 'up')
        yield ns, names
    finally:
        remove_wireguard_nodes(list(zip(ns, names)))


def test_wireguard_playbook_vvv_diff_shows_no_secret(lab, tmp_path):
    ns, names = lab
    b_private = wg.b64(wg.generate_private_key())
    psk, psk2 = wg.b64(wg.generate_private_key()), wg.b64(wg.generate_private_key())
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
               ANSIBLE_NOCOLOR='1', PATH=VENV + os.pathsep + os.environ['PATH'])
    extra = ['-e', 'ns_a=%s ns_b=%s wg_a=%s wg_b=%s key_dir=%s' % (ns[0], ns[1], names[0], names[1], tmp_path),
             '-e', 'b_private_key=%s psk=%s psk2=%s' % (b_private, psk, psk2)]
    p = subprocess.run([os.path.join(VENV, 'ansible-playbook'), '-vvv', '--diff', '-i', 'localhost,', '-c', 'local',
                        os.path.join(HERE, 'playbooks', 'wireguard.yml')] + extra,
                       capture_output=True, text=True, env=env, check=False)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-6000:]
    assert 'failed=0' in p.stdout and 'ignored=2' in p.stdout, p.stdout[-2000:]
    with open(str(tmp_path / 'a.key')) as fh:
        a_private = fh.read().strip()
    a_public = wg.b64(wg.public_key(base64.b64decode(a_private)))
    # the output is really there, verbose and with diffs: public keys and fingerprints show
    assert '<redacted:' in out and '+++ after: wireguard' in out
    assert out.count(a_public) >= 3
    for secret in (a_private, b_private, psk, psk2):
        leaked = [piece for piece in pieces(secret) if piece in out]
        assert not leaked, 'a piece of a secret key appears in the output'
    # Ansible's own masking of no_log values shows where a variable was passed
    assert '********' in out
