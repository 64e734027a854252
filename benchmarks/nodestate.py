"""The benchmark's node state: N links (veth pairs), addresses and routes spread over them."""


def node_state(links, addresses, routes):
    spec = {'links': [], 'addresses': [], 'routes': []}
    for i in range(links):
        spec['links'].append({'name': 'bl%d' % i, 'kind': 'veth', 'peer': 'bp%d' % i, 'up': True})
    for k in range(addresses):
        i = k % links
        n = k // links
        spec['addresses'].append({'address': '10.%d.%d.%d/16' % (i, n // 250, n % 250 + 1), 'link': 'bl%d' % i})
    for k in range(routes):
        i = k % links
        spec['routes'].append({'destination': '172.%d.%d.0/24' % (16 + k // 256, k % 256), 'gateway': '10.%d.255.254' % i})
    return spec


def ip_batch(spec):
    """The same objects as `ip -batch` commands."""
    lines = []
    for l in spec['links']:
        lines.append('link add %s type veth peer name %s' % (l['name'], l['peer']))
        lines.append('link set %s up' % l['name'])
    for a in spec['addresses']:
        lines.append('address add %s dev %s' % (a['address'], a['link']))
    for r in spec['routes']:
        lines.append('route add %s via %s proto static' % (r['destination'], r['gateway']))
    return '\n'.join(lines) + '\n'
