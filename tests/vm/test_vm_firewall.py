"""VM tier: the firewall engine on Debian's kernel (6.1 here), in-process (no Ansible run: ~30 s each there).

The host tier covers the firewall in depth; this proves the same batches, read-back and
normalisation hold on an older kernel whose nf_tables is loaded on demand as modules.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import firewall as fw
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import runner
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.netlink import in_netns


def _tcp(netns, dst, port, timeout=1.0):
    def run():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((dst, port))
            return 'open'
        except ConnectionRefusedError:
            return 'refused'
        except socket.timeout:
            return 'dropped'
        finally:
            s.close()
    return in_netns(netns, run)


def test_firewall_on_the_vm_kernel(netns, ip):
    peer = netns + '-c'
    subprocess.run(['ip', 'netns', 'add', peer], check=True)
    try:
        ip(netns, 'link', 'add', 'n0', 'type', 'veth', 'peer', 'name', 'c0', 'netns', peer)
        ip(netns, 'addr', 'add', '10.88.0.1/24', 'dev', 'n0')
        ip(netns, 'link', 'set', 'n0', 'up')
        ip(peer, 'addr', 'add', '10.88.0.2/24', 'dev', 'c0')
        ip(peer, 'link', 'set', 'c0', 'up')

        def listen(port):
            s = socket.socket()
            s.bind(('10.88.0.1', port))
            s.listen(4)
            return s
        servers = [in_netns(netns, lambda p=p: listen(p)) for p in (8080, 9090)]
        stop = threading.Event()

        def serve():
            for s in servers:
                s.settimeout(0.2)
            while not stop.is_set():
                for s in servers:
                    try:
                        s.accept()[0].close()
                    except OSError:
                        pass
        t = threading.Thread(target=serve, daemon=True)
        t.start()

        params = {'default_action': 'block', 'rules': [
            {'name': 'web', 'port_selector': {'protocol': 'tcp', 'ports': ['8000-8100']},
             'ingress': [{'subnet': '10.88.0.0/24', 'except': '10.88.0.3/32'}]}]}
        assert _tcp(peer, '10.88.0.1', 9090) == 'open'
        r = runner.single('firewall', params, netns=netns, context={'environ': {}})
        assert r['changed']
        assert runner.single('firewall', params, netns=netns, context={'environ': {}})['changed'] is False
        listing = json.loads(subprocess.run(['ip', 'netns', 'exec', netns, 'nft', '-j', 'list', 'table', 'inet', 'nodenet'],
                                            check=True, capture_output=True, text=True).stdout)
        assert fw.parse_table(listing)[0] == fw.compile_model(fw.normalize(params))
        assert _tcp(peer, '10.88.0.1', 8080) == 'open'
        assert _tcp(peer, '10.88.0.1', 9090) == 'dropped'
        assert runner.single('firewall', {'state': 'absent'}, netns=netns, context={'environ': {}})['changed']
        assert _tcp(peer, '10.88.0.1', 9090) == 'open'
        stop.set()
        t.join(2)
        for s in servers:
            s.close()
    finally:
        subprocess.run(['ip', 'netns', 'del', peer], check=False)
