"""scripts/cluster_status.py's node block: routes in ip route's words, never a None (issue 18)."""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location('cluster_status', os.path.join(ROOT, 'scripts', 'cluster_status.py'))
cluster_status = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cluster_status)


def route(destination, **kw):
    r = {'destination': destination, 'gateway': None, 'link': None, 'table': 254, 'protocol': 'static', 'type': 'unicast'}
    r.update(kw)
    return r


def test_routes_line_has_type_via_dev_only_where_set():
    st = {'role': 'worker', 'links': [{'name': 'eth0', 'operational_state': None, 'up': True, 'mtu': 1500}],
          'addresses': [{'link': 'eth0', 'address': '192.0.2.10/24', 'scope': 'global'}],
          'routes': [route('0.0.0.0/0', gateway='192.0.2.1', link='eth0'),
                     route('10.96.0.0/12', type='blackhole'),
                     route('10.244.1.0/24', link='vxlan100'),
                     route('203.0.113.0/24', gateway='198.51.100.1', link='eth0', table=100)]}
    text = '\n'.join(cluster_status.node_block('n1', st, {}, 0))
    assert 'None' not in text
    routes = [ln for ln in text.splitlines() if ln.strip().startswith('routes')][0].split(None, 1)[1]
    assert routes.split('   ') == ['default via 192.0.2.1 dev eth0', 'blackhole 10.96.0.0/12', '10.244.1.0/24 dev vxlan100']
    assert 'links      eth0 up mtu 1500' in text
