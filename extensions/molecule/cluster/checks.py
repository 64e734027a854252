"""Runs of playbooks/site.yml on the scenario's lab, each checked as a user would (called by verify.yml):

  checks.py runner    LAB DIR   idempotence through ansible-runner with a private data directory (as AWX runs it)
  checks.py preflight LAB DIR   a description breaking every pre-flight check: one report, nothing applied anywhere
  checks.py ssh       LAB DIR   a change applied over SSH from the controller namespace, confirmed through SSH
  checks.py gate      LAB DIR   a cable cut in batch 2 of a change to the mesh, the firewall and the files:
                                batch 2 (w1) reverted (all of it), batch 1 (cp1) kept, batch 3 (w2) untouched

A node's state is read with nsenter into its network, UTS and mount namespaces (addresses, routes, the
firewall without counters, host name, /etc/hosts, /etc/resolv.conf, the WireGuard links' ports and peers with
their allowed IPs - never a key but the public ones -, confirm-or-revert files)."""
import glob
import json
import os
import re
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
NODES = ['cp1', 'w1', 'w2']


def cluster():
    with open(os.path.join(HERE, 'cluster.yml')) as fh:
        return yaml.safe_load(fh)['nodenet_cluster']


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as fh:
        yaml.safe_dump(data, fh)
    return path


def node_state(lab, node):
    ns = '%s-%s' % (lab, node)
    cmd = ['nsenter', '--net=/run/netns/' + ns, '--uts=/run/nodenet/ns/%s/uts' % ns, '--mount=/run/nodenet/ns/%s/mnt' % ns,
           '--', 'sh', '-c', 'ip -br addr; echo; ip route; ip -6 route; echo; nft list ruleset; echo; hostname; '
           'cat /etc/hosts /etc/resolv.conf; echo; wg show all listen-port; wg show all allowed-ips | sort; echo; '
           'ls /run/nodenet 2>/dev/null | grep -v -e "^ns$" -e "^wireguard$" || true']
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=True).stdout
    out = re.sub(r'counter packets \d+ bytes \d+', 'counter', out)
    # the watchdog's records of a finished change (confirmed or reverted) are listed apart
    lines = out.splitlines()
    done = [x for x in lines if re.match(r'^(reverted|watchdog|confirmed)-', x)]
    return '\n'.join(x for x in lines if x not in done) + '\n', done


def states(lab):
    """{node: (state, the watchdog's records)}"""
    return dict((n, node_state(lab, n)) for n in NODES)


def playbook(lab, args, inventory=None, netns=None):
    inv = inventory or '/run/nodenet/lab/%s/inventory.yml' % lab
    cmd = (['ip', 'netns', 'exec', netns] if netns else []) + ['ansible-playbook', '-i', inv] + args
    print('$ ' + ' '.join(cmd), flush=True)
    t0 = time.time()
    plain = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')     # molecule forces colour
    p = subprocess.run(cmd, cwd=ROOT, env=plain, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                       check=False)
    p.stdout = re.sub(r'\x1b\[[0-9;]*m', '', p.stdout)
    print('  rc %d in %.0f s' % (p.returncode, time.time() - t0), flush=True)
    return p


def recap(output):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    out = {}
    for m in re.finditer(r'^(\S+)\s+: ((?:\w+=\d+\s*)+)$', output, re.M):
        out[m.group(1)] = dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', m.group(2)))
    return out


def fail(msg, output=''):
    print(output[-6000:])
    print('CHECK FAILED: ' + msg)
    sys.exit(1)


def check_runner(lab, d):
    """site.yml through ansible-runner: project, inventory and extra vars in a private data directory."""
    os.makedirs(os.path.join(d, 'inventory'), exist_ok=True)
    os.makedirs(os.path.join(d, 'env'), exist_ok=True)
    if not os.path.islink(os.path.join(d, 'project')):
        os.symlink(os.path.join(ROOT, 'playbooks'), os.path.join(d, 'project'))
    with open('/run/nodenet/lab/%s/inventory.yml' % lab) as src, open(os.path.join(d, 'inventory', 'hosts.yml'), 'w') as dst:
        dst.write(src.read())
    write(os.path.join(d, 'env', 'extravars'), {'nodenet_cluster': cluster()})
    write(os.path.join(d, 'env', 'envvars'), {'ANSIBLE_PIPELINING': '1'})
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-runner'), 'run', d, '-p', 'site.yml', '--ident', 'idempotence']
    print('$ ' + ' '.join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    art = os.path.join(d, 'artifacts', 'idempotence')
    with open(os.path.join(art, 'status')) as fh:
        status = fh.read().strip()
    stats = None
    for ev in sorted(glob.glob(os.path.join(art, 'job_events', '*.json'))):
        with open(ev) as fh:
            e = json.load(fh)
        if e.get('event') == 'playbook_on_stats':
            stats = e['event_data']
    if p.returncode != 0 or status != 'successful' or stats is None:
        fail('ansible-runner: rc %d, status %s' % (p.returncode, status), p.stdout)
    if sorted(stats['ok']) != NODES or any(stats['changed'].get(n) for n in NODES) or stats['failures']:
        fail('ansible-runner run was not idempotent: changed %s, failures %s' % (stats['changed'], stats['failures']), p.stdout)
    print('ansible-runner: status %s, ok on %s, changed=0 everywhere' % (status, ', '.join(sorted(stats['ok']))))


def check_preflight(lab, d):
    bad = cluster()
    bad.update(pod_cidrs=['192.168.0.0/16', 'fd00:10:244::/56'],           # overlaps the node network (IPv4)
               service_cidrs=['10.96.0.0/12', 'fd00:62::/112'],            # overlaps the node network (IPv6)
               mesh=dict(bad['mesh'], cidrs=['10.96.5.0/24']),             # inside the service CIDR
               vip=dict(bad['vip'], address='10.1.2.3'),                   # outside the control-plane network
               dns=dict(bad['dns'], search_domains=['lab.example', 'preflight.example']))   # a change, never applied
    w2 = {'nodenet_hostname': 'cp1',                                       # duplicate host name
          'nodenet_network': {'links': [{'name': 'eth0', 'mtu': 9000, 'up': True}],   # MTU differs along the network
                              'addresses': [{'address': '192.168.62.21/24', 'link': 'eth0'}]}}  # w1's address; no IPv6
    extra = write(os.path.join(d, 'bad.yml'), {'nodenet_cluster': bad})
    inv = write(os.path.join(d, 'override.yml'), {'all': {'children': {'workers': {'hosts': {'w2': w2}}}}})
    before = states(lab)
    p = playbook(lab, ['-i', inv, '-e', '@' + extra, 'playbooks/site.yml'])
    after = states(lab)
    if p.returncode == 0:
        fail('site.yml passed a bad cluster description', p.stdout)
    wanted = ['cidr-overlap', 'mesh-overlap', 'mtu-mismatch', 'duplicate-address', 'duplicate-hostname', 'missing-address',
              'vip', 'mesh-address']
    report = p.stdout[p.stdout.find('cluster pre-flight found'):]
    missing = [c for c in wanted if '[%s]' % c not in report]
    if 'cluster pre-flight found' not in p.stdout or missing:
        fail('the report lacks %s' % missing, p.stdout)
    for frag in ('192.168.0.0/16', 'fd00:62::/112', 'mesh.cidrs[0] 10.96.5.0/24', 'vip.address 10.1.2.3 is outside',
                 'w2 (worker) has no IPv6 address', 'w1 and w2 both', '192.168.62.21 is on w1 (eth0) and on w2 (eth0)'):
        if frag not in report:
            fail('the report lacks %r' % frag, p.stdout)
    if len(re.findall(r'(?m)^fatal: \[', p.stdout)) != 1:     # the pre-flight runs once, for the whole cluster
        fail('not one failure with one report', p.stdout)
    changed = [n for n in NODES if before[n] != after[n]]      # records too: no watchdog ran
    if changed:
        fail('nodes changed after a failed pre-flight: %s' % changed, '\n'.join(
            '%s: %s' % (n, [x for x in after[n][0].splitlines() + after[n][1] if x not in before[n][0].splitlines() + before[n][1]])
            for n in changed))
    print('pre-flight: one report with %d problems (%s); no node changed' % (report.count('\n  - ') + 1, ', '.join(wanted)))


def check_ssh(lab, d):
    c = cluster()
    c['dns']['search_domains'] = ['lab.example', 'ssh.example']
    extra = write(os.path.join(d, 'ssh.yml'), {'nodenet_cluster': c})
    p = playbook(lab, ['-e', '@' + extra, 'playbooks/site.yml'], inventory='/run/nodenet/lab/%s/inventory-ssh.yml' % lab,
                 netns='%s-controller' % lab)
    if p.returncode != 0:
        fail('site.yml over SSH failed', p.stdout)
    stats = recap(p.stdout)
    if sorted(stats) != NODES or not all(stats[n]['changed'] >= 1 for n in NODES):
        fail('over SSH: not every node changed: %s' % stats, p.stdout)
    confirm = p.stdout[p.stdout.find('Confirm batch 1]'):]
    confirm = confirm[:confirm.find('TASK [')]
    if not all(('changed: [%s]' % n) in confirm for n in NODES):
        fail('batch 1 was not confirmed over SSH', p.stdout)
    now = states(lab)
    for n in NODES:
        state, records = now[n]
        if 'search lab.example ssh.example' not in state:
            fail('%s: the change applied over SSH is not there' % n, state)
        if 'pending-' in state or any(r.startswith('reverted-') for r in records):
            fail('%s: a change is still pending or was reverted' % n, state + '\n'.join(records))
    print('ssh: applied from %s-controller over SSH, %s changed, every batch confirmed, nothing reverted'
          % (lab, ', '.join('%s=%d' % (n, stats[n]['changed']) for n in NODES)))


def check_gate(lab, d):
    c = cluster()
    c['dns']['search_domains'] = ['lab.example', 'gate.example']
    # a new mesh CIDR changes all of a batch's single guarded task: every node's mesh address (added), its peers'
    # allowed IPs (the WireGuard link) and the firewall's ping rule (the mesh CIDR is one of its sources)
    c['mesh']['cidrs'] = ['10.251.0.0/24']
    # small bounded waits: w1's gate gives up after 8 s; its watchdog reverts it after 35 s (time enough for a
    # batch to pass its gate and be confirmed on a loaded machine). A worker's cable is cut: cutting a control
    # plane's would also move the VIP (keepalived), which is not what this checks.
    c['rollout'] = {'batch_size': 1, 'rollback_timeout': 35, 'gate_timeout': 8}   # [cp1] [w1] [w2]
    extra = write(os.path.join(d, 'gate.yml'), {'nodenet_cluster': c})
    before = states(lab)
    for n in NODES:
        if 'wg0\t51820' not in before[n][0] or '10.250.0.' not in before[n][0] or 'chain' not in before[n][0]:
            fail('%s: no mesh or firewall before the gate run' % n, before[n][0])
    port = ['ip', '-n', '%s-sw-sw0' % lab, 'link', 'set', 'w1-eth0']
    subprocess.run(port + ['down'], check=True)           # the cable of w1 (batch 2) is cut at the switch
    try:
        p = playbook(lab, ['-e', '@' + extra, 'playbooks/site.yml'])
    finally:
        subprocess.run(port + ['up'], check=True)
    after = states(lab)
    if p.returncode == 0:
        fail('site.yml passed with a cable cut', p.stdout)
    if 'health gate failed in batch 2 (w1)' not in p.stdout or 'w1 -> cp1 nodes 192.168.62.11' not in p.stdout:
        fail('the failure does not name batch 2 and the unreachable node', p.stdout)
    for n, me, peer in (('cp1', 11, 21),):
        kept = after[n][0]
        if ('search lab.example gate.example' not in kept or 'pending-' in kept or ' 10.251.0.%d/24' % me not in kept
                or '\t10.251.0.%d/32' % peer not in kept or '10.251.0.0/24' not in kept):
            fail('%s (batch 1) should keep the confirmed change (files, mesh peers, mesh address, firewall)' % n, kept)
    for n in ('w1',):
        if after[n][0] != before[n][0]:
            fail('%s (batch 2) was not reverted to exactly its state before (mesh, firewall, addresses, files)' % n,
                 '\n'.join(x for x in after[n][0].splitlines() if x not in before[n][0].splitlines()))
        if len([r for r in after[n][1] if r.startswith('reverted-')]) != 1:
            fail('%s (batch 2): no record of the watchdog reverting it: %s' % (n, after[n][1]))
    if after['w2'] != before['w2']:
        fail('w2 (batch 3) was touched')
    print('gate: batch 2 (w1) failed its gate (its cable cut) and its watchdog reverted all of it - WireGuard peers, '
          'mesh address, firewall, /etc files - to the exact state before; batch 1 (cp1) kept the change; batch 3 (w2) untouched')


if __name__ == '__main__':
    what, lab_name, directory = sys.argv[1:4]
    os.makedirs(directory, exist_ok=True)
    {'runner': check_runner, 'preflight': check_preflight, 'ssh': check_ssh, 'gate': check_gate}[what](lab_name, directory)
