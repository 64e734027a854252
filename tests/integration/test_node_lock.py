"""Integration tier: two ansible-playbook runs on one node at the same instant (two playbooks,
overlapping AWX jobs, a timer). Each declares a different node network with purge; the node lock
makes them take turns, so every round ends in exactly one of the two states, never their union."""
import json
import os
import re
import subprocess
import time

from .test_playbooks import HERE, ROOT, VENV, netns  # noqa: F401 pylint: disable=unused-import

N = 20
PLAY = '''\
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Ready
      ansible.builtin.file: {{path: "{ready}", state: touch, mode: "0600"}}
    - name: Wait for the starting shot (both runs leave this within 10 ms of each other)
      ansible.builtin.command: sh -c 'while [ ! -e "{go}" ]; do sleep 0.01; done'
      changed_when: false
    - name: The node network
      seed.nodenet.network:
        netns: "{netns}"
        links: [{{name: eth0, kind: veth, peer: sw0, up: true}}]
        addresses: {addresses}
        routes: {routes}
        purge: [addresses, routes]
'''


def spec(net):
    return ([{'address': '10.%d.%d.1/24' % (net, i), 'link': 'eth0'} for i in range(N)],
            [{'destination': '172.%d.%d.0/24' % (net, i), 'gateway': '10.%d.0.254' % net} for i in range(N)])


def observed(netns):  # noqa: F811
    out = json.loads(subprocess.run(['ip', '-j', '-n', netns, '-4', 'addr', 'show', 'dev', 'eth0'],
                                    capture_output=True, text=True, check=True).stdout)
    addrs = sorted('%s/%d' % (a['local'], a['prefixlen']) for l in out for a in l['addr_info'])
    out = json.loads(subprocess.run(['ip', '-j', '-n', netns, 'route', 'show', 'proto', 'static'],
                                    capture_output=True, text=True, check=True).stdout)
    return addrs, sorted(r['dst'] for r in out)


def expected(net):
    a, r = spec(net)
    return sorted(x['address'] for x in a), sorted(x['destination'] for x in r)


def test_two_playbooks_at_the_same_instant_end_in_exactly_one_state(netns, tmp_path):  # noqa: F811
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, 'python'), ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1', PATH=VENV + os.pathsep + os.environ['PATH'])
    rounds, waited = 4, 0
    for r in range(rounds):
        go = tmp_path / ('go-%d' % r)
        procs = []
        for net in (1, 2):
            ready = tmp_path / ('ready-%d-%d' % (r, net))
            addresses, routes = spec(net)
            play = tmp_path / ('play-%d-%d.yml' % (r, net))
            play.write_text(PLAY.format(ready=ready, go=go, netns=netns, addresses=json.dumps(addresses), routes=json.dumps(routes)))
            procs.append((ready, subprocess.Popen([os.path.join(VENV, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', '-v',
                                                   str(play)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)))
        t0 = time.time()
        while not all(ready.exists() for ready, dummy in procs) and time.time() - t0 < 300:
            assert all(p.poll() is None for dummy, p in procs), [p.communicate()[0][-2000:] for dummy, p in procs]
            time.sleep(0.05)
        go.write_text('')
        outs = [p.communicate(timeout=600)[0] for dummy, p in procs]
        for p, out in zip((p for dummy, p in procs), outs):
            assert p.returncode == 0, out[-3000:]
            assert re.search(r'localhost\s+: ok=3\s+changed=\d+\s+unreachable=0\s+failed=0', out), out[-3000:]
        got = observed(netns)
        assert got in (expected(1), expected(2)), 'round %d: neither state: %d addresses %s..., %d routes %s...' % (
            r, len(got[0]), got[0][:3], len(got[1]), got[1][:3])
        waited += sum(1 for out in outs if 'waited ' in out and 'for the node lock' in out)
    print('rounds in which one playbook waited for the other: %d of %d' % (waited, rounds))
