"""playbooks/diagnose.yml on the scenario's lab as a user runs it (called by verify.yml):

  faults.py LAB DIR

First the healthy lab: the play passes and the JSON report says all green. Then the faults, in two runs of three
faults whose checks don't overlap (dns + firewall + pod CIDR, then MTU + default route + drift), each run undone
before the next; each run must fail exactly the union of the checks named here and no other:
  default route removed on w1           -> w1 default-route
  DNS listener stopped (dnsmasq paused)  -> dns on every node
  MTU 1400 on w1's cable at the switch   -> mtu on every node (every path to or from w1), the size that crosses named
                                           (towards w1 1372 + 28 = 1400; from w1 the veth lets 4 bytes more through,
                                           room it keeps for a VLAN tag)
  nft on cp1 dropping TCP 6443           -> cp1 api
  pod CIDR overlapping the node network  -> cluster pod-cidr
  w1's service address on lo removed     -> w1 drift and the cluster's drift sum
The management API is played by a TCP listener on port 6443 in cp1 and cp2 (no API server can run here); it is
started here and stopped at the end. Nodes are entered with `ip -n <lab>-<node>` / `ip netns exec`.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
NODES = ['cp1', 'cp2', 'w1']
LISTENER = ('import socket\ns = socket.socket(socket.AF_INET6)\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n'
            's.bind(("::", 6443))\ns.listen(16)\nwhile True:\n    s.accept()[0].close()\n')


def sh(*argv):
    subprocess.run(list(argv), check=True)


def playbook(lab, d, name, extra=None, fail=False):
    report = os.path.join(d, name + '.json')
    if os.path.exists(report):
        os.unlink(report)
    cmd = ['ansible-playbook', '-i', '/run/nodenet/lab/%s/inventory.yml' % lab, '-e', '@' + os.path.join(HERE, 'cluster.yml'),
           '-e', 'diagnose_report_file=' + report] + (extra or []) + ([] if fail else ['-e', 'diagnose_fail=false'])
    cmd.append('playbooks/diagnose.yml')
    print('$ ' + ' '.join(cmd), flush=True)
    t0 = time.time()
    plain = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    p = subprocess.run(cmd, cwd=ROOT, env=plain, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                       check=False)
    p.stdout = re.sub(r'\x1b\[[0-9;]*m', '', p.stdout)
    print('  rc %d in %.0f s' % (p.returncode, time.time() - t0), flush=True)
    if not os.path.exists(report):
        fail_check('%s: no report written' % name, p.stdout)
    with open(report) as fh:
        return p, json.load(fh)


def failed(report):
    out = set((n, f['check']) for n, fs in report['nodes'].items() for f in fs if f['status'] == 'fail')
    return out | set(('cluster', f['check']) for f in report['cluster'] if f['status'] == 'fail')


def messages(report, where, check):
    fs = report['cluster'] if where == 'cluster' else report['nodes'][where]
    return ' '.join(f['message'] for f in fs if f['check'] == check)


def fail_check(msg, output=''):
    print(output[-8000:])
    print('CHECK FAILED: ' + msg)
    sys.exit(1)


def expect(lab, d, name, wanted, texts=(), extra=None, fail=False):
    p, report = playbook(lab, d, name, extra, fail)
    got = failed(report)
    if got != set(wanted):
        fail_check('%s: failed checks %s, wanted %s' % (name, sorted(got), sorted(wanted)), p.stdout)
    if fail != (p.returncode != 0) and wanted:
        fail_check('%s: rc %d with diagnose_fail %s' % (name, p.returncode, fail), p.stdout)
    for where, check, text in texts:
        if text not in messages(report, where, check):
            fail_check('%s: %s %s does not say %r' % (name, where, check, text), p.stdout)
    print('%s: reported by %s only' % (name, ', '.join('%s %s' % x for x in sorted(got))), flush=True)
    return p, report


def main(lab, d):
    os.makedirs(d, exist_ok=True)
    ns = dict((n, '%s-%s' % (lab, n)) for n in NODES)
    listeners = [subprocess.Popen(['ip', 'netns', 'exec', ns[n], sys.executable, '-c', LISTENER], start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in ('cp1', 'cp2')]
    t0 = time.time()
    try:
        p, report = playbook(lab, d, 'healthy', fail=True)
        if p.returncode != 0 or report['summary']['status'] != 'ok' or failed(report):
            fail_check('the healthy lab is not all green: %s' % sorted(failed(report)), p.stdout)
        table = p.stdout[p.stdout.find('nodenet diagnose:'):]
        if 'nodenet diagnose: all green' not in p.stdout or not re.search(r'(?m)^\s*"?cp1\s+ok\s+ok\s', table):
            fail_check('no table on the console', p.stdout)
        print('healthy: all green, %d checks' % report['summary']['checks'], flush=True)

        # Faults whose checks don't overlap are injected together: two runs instead of six, each must report
        # exactly the union of its faults' checks (no other), with each fault's evidence.
        with open('/run/nodenet/lab/%s/dnsmasq.pid' % lab) as fh:
            dnsmasq = int(fh.read().strip())
        with open(os.path.join(HERE, 'cluster.yml')) as fh:
            bad = yaml.safe_load(fh)
        bad['nodenet_cluster']['pod_cidrs'] = ['192.168.0.0/16', 'fd00:10:244::/56']
        with open(os.path.join(d, 'overlap.yml'), 'w') as fh:
            yaml.safe_dump(bad, fh)
        nft = 'table inet diagnose_fault {\n chain input {\n  type filter hook input priority -10;\n  tcp dport 6443 drop\n }\n}\n'
        os.kill(dnsmasq, signal.SIGSTOP)                                  # DNS listener stopped
        try:
            subprocess.run(['ip', 'netns', 'exec', ns['cp1'], 'nft', '-f', '-'], input=nft, universal_newlines=True,
                           check=True)                                    # cp1 drops the API port
            try:
                expect(lab, d, 'dns+firewall+cidr',                       # + a pod CIDR overlapping the node network
                       [(n, 'dns') for n in NODES] + [('cp1', 'api'), ('cluster', 'pod-cidr')],
                       [('w1', 'dns', '192.168.66.1: no answer'),
                        ('cp1', 'api', 'w1 -> 192.168.66.11:6443 no answer'), ('cp1', 'api', 'tcp dport 6443 drop'),
                        ('cluster', 'pod-cidr', 'pod CIDR 192.168.0.0/16 overlaps node network nodes (192.168.66.0/24)')],
                       extra=['-e', '@' + os.path.join(d, 'overlap.yml')])
            finally:
                sh('ip', 'netns', 'exec', ns['cp1'], 'nft', 'delete', 'table', 'inet', 'diagnose_fault')
        finally:
            os.kill(dnsmasq, signal.SIGCONT)

        port = ['ip', '-n', '%s-sw-sw0' % lab, 'link', 'set', 'w1-eth0', 'mtu']
        sh(*port + ['1400'])                                              # MTU 1400 on w1's cable
        sh('ip', '-n', ns['w1'], '-4', 'route', 'del', 'default')         # w1 without its IPv4 default route
        sh('ip', '-n', ns['w1'], 'addr', 'del', '172.31.66.21/32', 'dev', 'lo')   # w1's service address drifted
        try:
            expect(lab, d, 'mtu+default-route+drift',
                   [(n, 'mtu') for n in NODES] + [('w1', 'default-route'), ('w1', 'drift'), ('cluster', 'drift')],
                   [('w1', 'mtu', 'cp1 -> w1 192.168.66.21 (nodes): a 1472-byte ping with DF set is lost (network MTU 1500); '
                     'the largest that crosses is 1372 bytes (path MTU 1400)'),
                    ('w1', 'mtu', 'w1 -> cp2 192.168.66.12 (nodes): a 1472-byte ping with DF set is lost'),
                    ('cp2', 'mtu', 'cp2 -> w1 fd00:66::21 (nodes): a 1452-byte ping with DF set is lost'),
                    ('w1', 'default-route', 'no IPv4 default route'),
                    ('w1', 'drift', '172.31.66.21/32'), ('cluster', 'drift', '1 of 3 declared nodes drifted (w1)')],
                   fail=True)
        finally:
            sh('ip', '-n', ns['w1'], 'addr', 'add', '172.31.66.21/32', 'dev', 'lo')
            sh('ip', '-n', ns['w1'], '-4', 'route', 'add', 'default', 'via', '192.168.66.1', 'dev', 'eth0')
            sh(*port + ['1500'])
    finally:
        for p in listeners:
            p.terminate()
            p.wait()
    print('diagnose: healthy lab all green, 6 faults in 2 runs each reported by its own check(s) only, in %.0f s' % (time.time() - t0))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
