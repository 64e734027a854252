"""The benchmarks' node states: links, addresses and routes spread over them, in a few shapes."""


def node_state(links, addresses, routes, shape='plain'):
    """plain: veth pairs, IPv4 addresses, routes in the main table (the shape measured since the start).
    mixed: half the links macvlans on the veths, a quarter of the addresses IPv6, a fifth of the
    routes in table 300."""
    spec = {'links': [], 'addresses': [], 'routes': []}
    mixed = shape == 'mixed'
    nveth = (links + 1) // 2 if mixed else links
    for i in range(nveth):
        spec['links'].append({'name': 'bl%d' % i, 'kind': 'veth', 'peer': 'bp%d' % i, 'up': True})
    for i in range(nveth, links):
        spec['links'].append({'name': 'bl%d' % i, 'kind': 'macvlan', 'parent': 'bl%d' % (i - nveth),
                              'macvlan_mode': 'bridge', 'up': True})
    for k in range(addresses):
        i = k % links
        n = k // links
        if mixed and n % 4 == 3:
            spec['addresses'].append({'address': 'fd00:%x::%x/64' % (i, n + 1), 'link': 'bl%d' % i})
        else:
            spec['addresses'].append({'address': '10.%d.%d.%d/24' % (i // 250, (i % 250), n + 1) if links > 250
                                      else '10.%d.%d.%d/16' % (i, n // 250, n % 250 + 1), 'link': 'bl%d' % i})
    for k in range(routes):
        i = k % links
        gw = '10.%d.%d.254' % (i // 250, i % 250) if links > 250 else '10.%d.255.254' % i
        r = {'destination': '172.%d.%d.0/24' % (16 + k // 256, k % 256), 'gateway': gw}
        if mixed and k % 5 == 4:
            r['table'] = 300
        spec['routes'].append(r)
    return spec


def ip_batch(spec):
    """The same objects as `ip -batch` commands."""
    lines = []
    for l in spec['links']:
        if l['kind'] == 'veth':
            lines.append('link add %s type veth peer name %s' % (l['name'], l['peer']))
        else:
            lines.append('link add %s link %s type macvlan mode %s' % (l['name'], l['parent'], l['macvlan_mode']))
        lines.append('link set %s up' % l['name'])
    for a in spec['addresses']:
        lines.append('address add %s dev %s' % (a['address'], a['link']))
    for r in spec['routes']:
        table = ' table %d' % r['table'] if r.get('table') else ''
        lines.append('route add %s via %s proto static%s' % (r['destination'], r['gateway'], table))
    return '\n'.join(lines) + '\n'
