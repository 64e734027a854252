"""Print the cluster status that playbooks/cluster_status.yml wrote (JSON) as tables readable at a glance:
one block per node (links, addresses, routes, mesh peers with handshake age) and a connectivity matrix
(each node to each node over every node network and over the mesh). Exit status 1 if any pair fails."""
import json
import sys
import time


def human(n):
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if n < 1024 or unit == 'GiB':
            return ('%d %s' % (n, unit)) if unit == 'B' else ('%.1f %s' % (n, unit))
        n /= 1024.0


def age(ts, now):
    if not ts:
        return 'never'
    s = max(0, int(now - ts))
    return '%ds ago' % s if s < 120 else '%dm ago' % (s // 60)


def node_block(name, st, key_to_node, now):
    out = ['%s  (%s, %s)' % (name, st['role'], (st.get('hostname') or {}).get('fqdn') or name)]
    links = ['%s %s mtu %s' % (link['name'], link.get('operational_state') or ('up' if link.get('up') else 'down'), link['mtu'])
             for link in st['links'] if link['name'] != 'lo']
    out.append('  links      ' + '   '.join(links))
    by_link = {}
    for a in st['addresses']:
        if a.get('scope') == 'link' or a['link'] == 'lo':
            continue
        by_link.setdefault(a['link'], []).append(a['address'])
    out.append('  addresses  ' + '   '.join('%s %s' % (k, ' '.join(v)) for k, v in by_link.items()))
    routes = []
    for r in st['routes']:
        if r.get('table') not in (254, 'main') or r.get('protocol') == 'kernel' or r.get('destination', '').startswith('fe80'):
            continue
        dest = 'default' if r['destination'] in ('0.0.0.0/0', '::/0') else r['destination']
        # in ip route's words: the type when it is not unicast (blackhole ...), "via" and "dev" only when set
        words = [r['type']] if r.get('type') not in (None, 'unicast') else []
        words.append(dest)
        words += ['via %s' % r['gateway']] if r.get('gateway') else []
        words += ['dev %s' % r['link']] if r.get('link') else []
        routes.append(' '.join(words))
    out.append('  routes     ' + ('   '.join(routes) or '-'))
    for w in st.get('wireguard') or []:
        out.append('  mesh %-5s port %s, %d peer(s)' % (w['name'], w['listen_port'], len(w['peers'])))
        for p in sorted(w['peers'], key=lambda p: key_to_node.get(p['public_key'], p['public_key'])):
            out.append('    %-8s %-18s %-22s handshake %-9s rx %-9s tx %s' % (
                key_to_node.get(p['public_key'], p['public_key'][:8] + '...'), ','.join(p['allowed_ips']),
                p.get('endpoint') or '-', age(p.get('latest_handshake'), now), human(p.get('rx_bytes') or 0),
                human(p.get('tx_bytes') or 0)))
    return out


def matrix(status):
    nodes = list(status)
    vias = []
    cell = {}
    for src, st in status.items():
        for line in st.get('reach') or []:
            verdict, dst, via, addr = line.split()
            if via not in vias:
                vias.append(via)
            fam = '6' if ':' in addr else '4'
            key = (src, dst, via)
            cell.setdefault(key, {})[fam] = verdict == 'ok'
    out, failed = [], []
    w = max([len(n) for n in nodes] + [5]) + 2
    for via in vias:
        out.append('')
        out.append('reachability over %s (%s)' % (via, 'WireGuard' if via == 'mesh' else 'node network; IPv4/IPv6'))
        out.append(' ' * w + ''.join(n.ljust(w) for n in nodes))
        for src in nodes:
            row = src.ljust(w)
            for dst in nodes:
                if src == dst:
                    row += '-'.ljust(w)
                    continue
                res = cell.get((src, dst, via))
                if not res:
                    row += '?'.ljust(w)
                    failed.append('%s -> %s over %s: not probed' % (src, dst, via))
                    continue
                text = '/'.join('ok' if res[f] else 'NO' for f in sorted(res))
                row += text.ljust(w)
                if not all(res.values()):
                    failed.append('%s -> %s over %s' % (src, dst, via))
            out.append(row)
    return out, failed


def main(path):
    with open(path) as fh:
        status = json.load(fh)
    now = time.time()
    keys = {}
    for name, st in status.items():
        for w in st.get('wireguard') or []:
            if w.get('public_key'):
                keys[w['public_key']] = name
    lines = []
    for name, st in status.items():
        lines.extend(node_block(name, st, keys, now))
        lines.append('')
    m, failed = matrix(status)
    lines.extend(m)
    lines.append('')
    lines.append('connectivity: %s' % ('every node reaches every node' if not failed else '%d pair(s) FAIL: %s' % (len(failed), '; '.join(failed))))
    print('\n'.join(lines))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
