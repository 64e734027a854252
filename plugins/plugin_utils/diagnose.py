# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The troubleshooting checklist of the role seed.nodenet.diagnose, evaluated on the controller.

Pure functions of plain data, so the unit tests feed them evidence as data cases:
- `targets()` says what one node must probe (its DNS servers, a DF ping to every other node on each node
  network at that network's MTU, the management API port of every other control-plane node);
- `evaluate()` turns the evidence of every node (network_info facts, the probe's output, the drift plan from
  seed.nodenet.network in check mode) plus the cluster description into one report: findings
  {check, status (ok, fail, warn, skip), object, message, evidence} per node and for the cluster;
- `table()` is the short console view of that report.
The node-network and CNI checks of the add-ons (pod CIDR, MTU of the description, CNI pods, LoadBalancers) come
from plugin_utils/addons/checks.py, so diagnose and the add-on roles never disagree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.seed.nodenet.plugins.plugin_utils import cluster as cl
from ansible_collections.seed.nodenet.plugins.plugin_utils.addons import checks

NODE_CHECKS = ('default-route', 'dns', 'nat', 'outbound', 'reach', 'mtu', 'api', 'drift')
CLUSTER_CHECKS = ('pod-cidr', 'network-mtu', 'drift', 'cni-pods', 'network-policies', 'loadbalancer')
CNI_LINK_PREFIXES = ('cilium_', 'flannel', 'cali', 'vxlan.calico', 'tunl0', 'cni0', 'kube-bridge', 'weave')
HEADERS = {4: 28, 6: 48}           # IPv4 + ICMP, IPv6 + ICMPv6: a ping's payload is the MTU minus these


def finding(check, status, obj, message, evidence=None):
    out = {'check': check, 'status': status, 'object': obj, 'message': message}
    if evidence:
        out['evidence'] = evidence
    return out


def _iface(text):
    try:
        return ipaddress.ip_interface(str(text))
    except ValueError:
        return None


def _global(facts):
    """[(interface, link)] of a node's global addresses, from its network_info facts."""
    out = []
    for a in (facts or {}).get('addresses') or []:
        i = _iface(a.get('address'))
        if i is None or i.ip.is_loopback or i.ip.is_link_local or a.get('link') == 'lo':
            continue
        out.append((i, a.get('link')))
    return out


def node_network_addresses(name, nodes, facts, net):
    """The node's addresses on a node network: what the kernel has (facts), else what is declared."""
    cidrs = [n for n in (cl._net(x) for x in net.get('cidrs') or []) if n is not None]
    have = _global((facts or {}).get(name))
    if not have:
        node = [n for n in nodes if n['name'] == name]
        have = cl.node_addresses(node[0]) if node else []
    return [(i, link) for i, link in have if any(i.version == n.version and i.ip in n for n in cidrs)]


def targets(name, nodes, cluster, facts=None, api_ports=None, dns_name=None):
    """What node `name` probes: {dns_servers, dns_name, paths, api}."""
    c = cl.config(cluster)
    facts = facts or {}
    servers = list(c['dns'].get('nameservers') or [])
    res = (facts.get(name) or {}).get('resolvers') or {}
    for s in (res if isinstance(res, dict) else {}).get('nameservers') or []:     # what the node's resolv.conf lists
        if s not in servers:
            servers.append(s)
    me = [n for n in nodes if n['name'] == name]
    if dns_name is None:
        dns_name = cl.fqdn(me[0], c) if me and c.get('domain') else 'kubernetes.io'
    paths, api = [], []
    for other in nodes:
        if other['name'] == name:
            continue
        for net in c['networks']:
            mine = node_network_addresses(name, nodes, facts, net)
            for i, dummy in node_network_addresses(other['name'], nodes, facts, net):
                if not any(m.version == i.version for m, d in mine):
                    continue
                mtu = int(net.get('mtu') or 1500)
                paths.append({'node': other['name'], 'via': net['name'], 'address': str(i.ip), 'family': i.version,
                              'mtu': mtu, 'size': mtu - HEADERS[i.version]})
                if other.get('role') == 'controlplane':
                    api.extend({'node': other['name'], 'address': str(i.ip), 'port': int(p)} for p in api_ports or [])
    if c['mesh']['enabled'] and me:
        paths += mesh_paths(me[0], nodes, c, facts)
    return {'dns_servers': servers, 'dns_name': dns_name, 'paths': paths, 'api': api}


def mesh_paths(me, nodes, c, facts):
    """Paths over the WireGuard mesh (as the role cluster_network derives the mesh addresses), at the MTU of the
    node's own mesh link (its facts), else the mesh's declared or derived MTU."""
    link = c['mesh']['link']
    mtu = [l.get('mtu') for l in (facts.get(me['name']) or {}).get('links') or [] if l.get('name') == link and l.get('mtu')]
    net = cl.mesh_network(c)
    mtu = int(mtu[0] if mtu else c['mesh'].get('mtu') or (int(net.get('mtu') or 1500) if net else 1500) - cl.WG_OVERHEAD)
    if cl.mesh_address(me, c)[0] is None:
        return []
    out = []
    for other in nodes:
        addr = cl.mesh_address(other, c)[0] if other['name'] != me['name'] else None
        if addr is not None:
            out.append({'node': other['name'], 'via': 'mesh', 'address': str(addr.ip), 'family': addr.version, 'mtu': mtu,
                        'size': mtu - HEADERS[addr.version]})
    return out


# ---------------------------------------------------------------- node checks
def check_default_route(name, facts, probe):
    fams = sorted(set(i.version for i, dummy in _global(facts)))
    routes = probe.get('default_routes') or []
    out, bad = [], []
    for fam in fams:
        mine = [r for r in routes if r.get('family') == fam]
        if not mine:
            bad.append('no IPv%d default route (the node has IPv%d addresses)' % (fam, fam))
            continue
        for r in mine:
            if r.get('gateway') and not r.get('answers'):
                bad.append('IPv%d gateway %s (dev %s) does not answer ping: %s' % (fam, r['gateway'], r.get('dev'), r.get('error')))
            else:
                out.append('default via %s dev %s answers' % (r.get('gateway') or '(on-link)', r.get('dev')))
    if bad:
        return finding('default-route', 'fail', name, '; '.join(bad), routes)
    if not fams:
        return finding('default-route', 'skip', name, 'the node has no global address', routes)
    return finding('default-route', 'ok', name, '; '.join(out), routes)


def check_dns(name, probe):
    answers = probe.get('dns') or []
    if not answers:
        return finding('dns', 'fail', name, 'no nameserver: neither nodenet_cluster.dns.nameservers nor the node '
                       'resolver lists one')
    # NXDOMAIN is an answer: the server works and does not know that name (a lab's or an office's DNS may not
    # hold the nodes' names); no answer, SERVFAIL, REFUSED, ... are what leaves pods without DNS
    bad = ['%s: %s' % (a['server'], a.get('error') or 'answered %s' % a.get('rcode')) for a in answers
           if not a.get('answers') or a.get('rcode') not in ('NOERROR', 'NXDOMAIN')]
    if bad:
        return finding('dns', 'fail', name, 'nameservers not answering a query for %s: %s' % (answers[0]['name'], '; '.join(bad)),
                       answers)
    return finding('dns', 'ok', name, '%s answered %s' % (', '.join(a['server'] for a in answers), answers[0]['name']), answers)


def _nft_chains(text):
    """[{name, type, hook, policy, rules}] of the base and regular chains in `nft list ruleset` text."""
    chains, cur = [], None
    for line in (text or '').splitlines():
        s = line.strip()
        m = re.match(r'^chain (\S+) \{', s)
        if m:
            cur = {'name': m.group(1), 'type': None, 'hook': None, 'policy': 'accept', 'rules': []}
            chains.append(cur)
            continue
        if s == '}':
            cur = None
        if cur is None or not s or s == '}':
            continue
        m = re.match(r'^type (\w+) hook (\w+)', s)
        if m:
            cur['type'], cur['hook'] = m.group(1), m.group(2)
            p = re.search(r'policy (\w+)', s)
            if p:
                cur['policy'] = p.group(1)
            continue
        cur['rules'].append(s)
    return chains


def _covers(rule_sources, pods):
    """A masquerade rule covers the pod CIDRs when it has no source match or its source overlaps one."""
    if not rule_sources:
        return True
    for src in rule_sources:
        n = cl._net(src)
        if n is not None and any(p.version == n.version and p.overlaps(n) for p in pods):
            return True
    return False


def masquerade_rules(nft, iptables):
    """[(rule text, [source CIDRs])] of the masquerade/SNAT rules in the nat tables."""
    out = []
    for ch in _nft_chains(nft):
        if ch['hook'] != 'postrouting':
            continue
        for r in ch['rules']:
            if re.search(r'\b(masquerade|snat)\b', r):
                srcs = re.findall(r'\bip6? saddr (?!!=)\{?\s*([0-9a-fA-F:./, ]+)', r)
                out.append((r, [x.strip() for s in srcs for x in s.split(',') if x.strip()]))
    table = None
    for line in (iptables or '').splitlines():
        if line.startswith('*'):
            table = line[1:]
        elif table == 'nat' and line.startswith('-A ') and re.search(r'-j (MASQUERADE|SNAT)\b', line):
            out.append((line, re.findall(r'(?:^| )-s (\S+)', line)))
    return out


def check_nat(name, facts, probe, cluster):
    c = cl.config(cluster)
    pods = [n for n in (cl._net(x) for x in c['pod_cidrs']) if n is not None]
    rules = masquerade_rules(probe.get('nft'), probe.get('iptables'))
    covering = [r for r, srcs in rules if _covers(srcs, pods)]
    cni = sorted(l['name'] for l in (facts or {}).get('links') or [] if str(l.get('name')).startswith(CNI_LINK_PREFIXES))
    if covering:
        return finding('nat', 'ok', name, 'masquerade for pod CIDRs %s: %s' % (
            ', '.join(str(p) for p in pods), covering[0]), covering)
    if not cni:
        return finding('nat', 'skip', name, 'no CNI on this node (no cilium_*, flannel*, cali*, cni0 link): pod traffic '
                       'is masqueraded by the CNI once it runs, nothing to check yet')
    if any(x.startswith('cilium_') for x in cni):
        return finding('nat', 'warn', name, 'no masquerade rule for pod CIDRs %s in nftables/iptables; Cilium may masquerade '
                       'in eBPF (bpf.masquerade): check with cilium status' % ', '.join(str(p) for p in pods), cni)
    return finding('nat', 'fail', name, 'no masquerade/SNAT rule covers pod CIDRs %s though the CNI runs (%s): pods cannot '
                   'reach outside the cluster' % (', '.join(str(p) for p in pods), ', '.join(cni)), [r for r, s in rules])


def check_outbound(name, probe):
    bad = []
    for ch in _nft_chains(probe.get('nft')):
        if ch['hook'] not in ('output', 'postrouting') or ch['type'] == 'nat':
            continue
        if ch['policy'] == 'drop':
            bad.append('nft chain %s (hook %s) has policy drop' % (ch['name'], ch['hook']))
        bad.extend('nft chain %s: %s' % (ch['name'], r) for r in ch['rules'] if re.search(r'\b(drop|reject)\b', r))
    table = None
    for line in (probe.get('iptables') or '').splitlines():
        if line.startswith('*'):
            table = line[1:]
        elif table == 'filter' and re.match(r'^:OUTPUT (DROP|REJECT)', line):
            bad.append('iptables OUTPUT policy %s' % line.split()[1])
        elif table == 'filter' and line.startswith('-A OUTPUT') and re.search(r'-j (DROP|REJECT)\b', line):
            bad.append('iptables: %s' % line)
    if bad:
        return finding('outbound', 'fail', name, 'the firewall blocks outbound traffic: %s' % '; '.join(bad[:3]), bad)
    return finding('outbound', 'ok', name, 'no output chain drops or rejects')


def _path_text(src, p):
    return '%s -> %s %s (%s)' % (src, p['node'], p['address'], p['via'])


def check_reach_mtu(name, evidence):
    """Paths from and to this node: reach (a small ping) and MTU (a DF ping at the network's MTU)."""
    unreach, small = [], []
    for src in sorted(evidence):
        for p in ((evidence[src] or {}).get('probe') or {}).get('paths') or []:
            if not p or (src != name and p.get('node') != name):
                continue
            if not p.get('reach'):
                unreach.append('%s: no reply (%s)' % (_path_text(src, p), p.get('error')))
            elif not p.get('df_ok'):
                largest = p.get('largest') or 0
                small.append('%s: a %d-byte ping with DF set is lost (network MTU %d); the largest that crosses is %d bytes '
                             '(path MTU %d)' % (_path_text(src, p), p['size'], p['mtu'], largest, largest + HEADERS[p['family']]))
    out = [finding('reach', 'fail', name, '; '.join(unreach)) if unreach
           else finding('reach', 'ok', name, 'every other node answers on every shared node network')]
    if small:
        out.append(finding('mtu', 'fail', name, '; '.join(small)))
    else:
        out.append(finding('mtu', 'ok', name, 'full-size DF pings cross every path to and from this node'))
    return out


def _blocking_rules(nft, port):
    out = []
    for ch in _nft_chains(nft):
        if ch['hook'] not in ('input', 'prerouting', 'forward'):
            continue
        for r in ch['rules']:
            if re.search(r'\b(drop|reject)\b', r) and re.search(r'dport (\{[^}]*\b%d\b[^}]*\}|%d\b)' % (port, port), r):
                out.append('chain %s: %s' % (ch['name'], r))
    return out


def check_api(name, role, evidence, ports):
    if role != 'controlplane':
        return None
    results = []
    for src in sorted(evidence):
        for a in ((evidence[src] or {}).get('probe') or {}).get('api') or []:
            if a and a.get('node') == name:
                results.append(dict(a, source=src))
    if not results:
        return finding('api', 'skip', name, 'no other node probed port(s) %s (a single control-plane node, or no address '
                       'on a node network)' % ', '.join(str(p) for p in ports))
    bad, idle = [], []
    for r in results:
        if r['result'] == 'open':
            continue
        if r['result'] == 'refused':   # the node answered and the firewall let it through: no API server (yet)
            idle.append('%s -> %s:%d' % (r['source'], r['address'], r['port']))
            continue
        why = {'timeout': 'no answer: dropped on the way, most likely by a firewall',
               'unreachable': 'unreachable: %s' % r.get('error')}.get(r['result'], r['result'])
        bad.append('%s -> %s:%d %s' % (r['source'], r['address'], r['port'], why))
    if bad:
        rules = []
        for p in sorted(set(r['port'] for r in results)):
            rules += _blocking_rules(((evidence.get(name) or {}).get('probe') or {}).get('nft'), p)
        msg = '; '.join(bad)
        if rules:
            msg += '; rules on %s that drop it: %s' % (name, '; '.join(rules))
        return finding('api', 'fail', name, msg, results)
    if idle:
        return finding('api', 'warn', name, 'reachable and open in the firewall, but nothing listens on port(s) %s (the API '
                       'server is not running, or not yet): connection refused on %s' % (
                           ', '.join(str(p) for p in sorted(set(r['port'] for r in results))), '; '.join(idle)), results)
    return finding('api', 'ok', name, 'port(s) %s open from %s' % (
        ', '.join(str(p) for p in sorted(set(r['port'] for r in results))), ', '.join(sorted(set(r['source'] for r in results)))),
        results)


def check_drift(name, drift):
    if drift is None or drift.get('skipped'):
        return finding('drift', 'skip', name, 'no nodenet_network declared for this node: nothing to compare')
    if drift.get('failed'):
        return finding('drift', 'fail', name, 'the declared state cannot be planned: %s' % drift.get('msg'))
    ops = list(drift.get('operations') or [])
    if ops:
        return finding('drift', 'fail', name, '%d difference(s) from the declared state: %s' % (len(ops), '; '.join(ops)), ops)
    return finding('drift', 'ok', name, 'the node is as declared')


def check_policies(policies):
    """NetworkPolicies (k8s_info resources): a default deny (empty podSelector, a policy type with no rule) in a
    namespace is a warning - pod-to-pod traffic there passes only what another policy allows."""
    deny = {}
    for p in policies or []:
        meta, spec = p.get('metadata') or {}, p.get('spec') or {}
        sel = spec.get('podSelector') or {}
        if sel.get('matchLabels') or sel.get('matchExpressions'):
            continue
        for kind in spec.get('policyTypes') or ['Ingress']:
            if not spec.get(kind.lower()):
                deny.setdefault(meta.get('namespace'), set()).add(kind.lower())
    count = '%d NetworkPolicies in %d namespace(s)' % (
        len(policies or []), len(set((p.get('metadata') or {}).get('namespace') for p in policies or [])))
    if deny:
        where = ', '.join('%s (%s)' % (ns, '+'.join(sorted(k))) for ns, k in sorted(deny.items()))
        return finding('network-policies', 'warn', 'cluster', '%s; default deny in %s: pods there reach and are reached '
                       'only as another policy allows' % (count, where), sorted(deny))
    return finding('network-policies', 'ok', 'cluster', count + ', no default deny')


# ---------------------------------------------------------------- the report
def _addon(findings, check, default_obj):
    """checks.py findings under our check name; their 'fix' kept as evidence."""
    out = []
    for f in findings or []:
        out.append(finding(check, f.get('status', 'fail'), f.get('object') or default_obj, f.get('message'),
                           {'fix': f['fix']} if f.get('fix') else None))
    return out


def evaluate(cluster, nodes, evidence, k8s=None, api_ports=None):
    """The whole report. evidence: {host: {facts, probe, drift}}; k8s: None (no kubeconfig given) or
    {'cni': [checks.py findings], 'metallb': [...], 'policies': [NetworkPolicy resources]}."""
    c = cl.config(cluster)
    api_ports = list(api_ports or [])
    facts = dict((h, (e or {}).get('facts') or {}) for h, e in evidence.items())
    report = {'nodes': {}, 'cluster': []}
    for node in nodes:
        name = node['name']
        e = evidence.get(name)
        if not e or not e.get('probe'):
            report['nodes'][name] = [finding('reach', 'fail', name, 'no evidence from this node: it was unreachable for Ansible')]
            continue
        probe = e['probe']
        fs = [check_default_route(name, facts.get(name), probe), check_dns(name, probe),
              check_nat(name, facts.get(name), probe, c), check_outbound(name, probe)]
        fs += check_reach_mtu(name, evidence)
        api = check_api(name, node.get('role'), evidence, api_ports)
        if api:
            fs.append(api)
        fs.append(check_drift(name, e.get('drift')))
        report['nodes'][name] = fs
    node_facts = dict((h, {'links': f.get('links') or [], 'addresses': f.get('addresses') or [], 'routes': f.get('routes') or []})
                      for h, f in facts.items())
    report['cluster'] += _addon(checks.pod_cidr_conflicts(cluster, node_facts), 'pod-cidr', 'pod CIDRs')
    report['cluster'] += _addon(checks.mtu(cluster, node_facts), 'network-mtu', 'node networks')
    drifts = [(n, f) for n, fs in report['nodes'].items() for f in fs if f['check'] == 'drift']
    drifted = [(n, f) for n, f in drifts if f['status'] == 'fail']
    ops = sum(len(f.get('evidence') or []) for n, f in drifted)
    compared = [n for n, f in drifts if f['status'] != 'skip']
    if drifted:
        report['cluster'].append(finding('drift', 'fail', 'cluster', '%d of %d declared nodes drifted (%s), %d difference(s)' % (
            len(drifted), len(compared), ', '.join(n for n, f in drifted), ops)))
    elif compared:
        report['cluster'].append(finding('drift', 'ok', 'cluster', '%d declared node(s), no drift' % len(compared)))
    else:
        report['cluster'].append(finding('drift', 'skip', 'cluster', 'no node has nodenet_network'))
    if k8s is None:
        why = 'no kubeconfig given (diagnose_kubeconfig): %s not read from the cluster'
        report['cluster'].append(finding('cni-pods', 'skip', 'cluster', why % 'CNI pods'))
        report['cluster'].append(finding('network-policies', 'skip', 'cluster', why % 'NetworkPolicies'))
        report['cluster'].append(finding('loadbalancer', 'skip', 'cluster', why % 'LoadBalancer services, MetalLB pods and pools'))
    else:
        cni = [f for f in k8s.get('cni') or [] if f.get('check') == 'pods-ready']
        report['cluster'] += _addon(cni, 'cni-pods', 'CNI') or [finding('cni-pods', 'skip', 'cluster', 'no CNI in the description')]
        report['cluster'].append(check_policies(k8s.get('policies')))
        report['cluster'] += _addon(k8s.get('metallb'), 'loadbalancer', 'services') or [
            finding('loadbalancer', 'ok', 'cluster', 'no LoadBalancer service')]
    return summarize(report)


def summarize(report):
    every = [f for fs in report['nodes'].values() for f in fs] + report['cluster']
    failed = [f for f in every if f['status'] == 'fail']
    report['summary'] = {
        'status': 'fail' if failed else 'ok',
        'checks': len(every),
        'failed': len(failed),
        'warnings': len([f for f in every if f['status'] == 'warn']),
        'skipped': len([f for f in every if f['status'] == 'skip']),
        'failed_checks': sorted(set(f['check'] for f in failed)),
        'nodes': dict((n, 'fail' if any(f['status'] == 'fail' for f in fs) else 'ok') for n, fs in report['nodes'].items()),
    }
    return report


def failed(report):
    """[(where, check, message)] of every failed check: what the play names when it fails."""
    out = [(n, f['check'], f['message']) for n, fs in sorted(report['nodes'].items()) for f in fs if f['status'] == 'fail']
    return out + [('cluster', f['check'], f['message']) for f in report['cluster'] if f['status'] == 'fail']


def _cell(fs, check):
    st = [f['status'] for f in fs if f['check'] == check]
    if not st:
        return '-'
    for s in ('fail', 'warn', 'ok', 'skip'):
        if s in st:
            return s.upper() if s in ('fail', 'warn') else s
    return st[0]


def table(report):
    """The console view: one line per node, one for the cluster, then every failure and warning with its evidence."""
    s = report['summary']
    lines = ['nodenet diagnose: %s (%d checks, %d failed, %d warnings, %d skipped)' % (
        'FAIL' if s['status'] == 'fail' else 'all green', s['checks'], s['failed'], s['warnings'], s['skipped'])]
    width = max([len('node')] + [len(n) for n in report['nodes']])
    lines.append(('%-*s  ' % (width, 'node')) + '  '.join('%-13s' % c for c in NODE_CHECKS).rstrip())
    for n in sorted(report['nodes']):
        lines.append(('%-*s  ' % (width, n)) + '  '.join('%-13s' % _cell(report['nodes'][n], c) for c in NODE_CHECKS).rstrip())
    lines.append('cluster: ' + ', '.join('%s %s' % (c, _cell(report['cluster'], c)) for c in CLUSTER_CHECKS))
    for n, fs in sorted(report['nodes'].items()):
        lines += ['%s %s %s: %s' % (f['status'].upper(), n, f['check'], f['message']) for f in fs if f['status'] in ('fail', 'warn')]
    lines += ['%s cluster %s: %s' % (f['status'].upper(), f['check'], f['message']) for f in report['cluster']
              if f['status'] in ('fail', 'warn')]
    lines += ['SKIP cluster %s: %s' % (f['check'], f['message']) for f in report['cluster'] if f['status'] == 'skip']
    return lines
