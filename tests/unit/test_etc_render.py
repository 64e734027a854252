"""Rendering and parsing of the generated /etc files: resolv.conf, the hosts block, host names. No files touched."""
import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import hostname, hosts, resolver

HEADER = resolver.HEADER


def test_resolv_conf_render_options_as_words():
    conf = resolver.parse('')
    conf.update(resolver.normalize({'nameservers': ['192.0.2.53', '2001:DB8::53'],
                                    'search_domains': ['Cluster.Example.com.', 'example.com'],
                                    'options': {'rotate': True, 'timeout': 2, 'ndots': 2, 'edns0': False,
                                                'single_request': True, 'trust-ad': True}}))
    assert resolver.render(conf) == HEADER + (
        'nameserver 192.0.2.53\n'
        'nameserver 2001:db8::53\n'
        'search cluster.example.com example.com\n'
        'options ndots:2 timeout:2 rotate single-request trust-ad\n')


def test_resolv_conf_parse_round_trip_keeps_unmanaged_fields_and_other_lines():
    text = ('# written by hand\nnameserver 10.0.0.1 ; old\ndomain old.example\nsearch a.example b.example\n'
            'options ndots:5 rotate\nsortlist 130.155.160.0/255.255.240.0\n')
    conf = resolver.parse(text)
    assert conf == {'nameservers': ['10.0.0.1'], 'search_domains': ['a.example', 'b.example'],
                    'options': {'ndots': 5, 'rotate': True}, 'other': ['sortlist 130.155.160.0/255.255.240.0']}
    conf.update(resolver.normalize({'nameservers': ['192.0.2.1']}))
    out = resolver.render(conf)
    assert 'nameserver 192.0.2.1\nsearch a.example b.example\noptions ndots:5 rotate\nsortlist' in out
    # rendering what was parsed from our own output is a fixed point (idempotence)
    assert resolver.render(resolver.parse(out)) == out


def test_resolv_conf_empty_lists_and_options_clear():
    conf = resolver.parse('nameserver 10.0.0.1\nsearch x.example\noptions rotate\n')
    conf.update(resolver.normalize({'nameservers': [], 'search_domains': [], 'options': {}}))
    assert resolver.render(conf) == HEADER


def test_resolved_dropin_render_and_parse():
    conf = resolver.parse_dropin('')
    conf.update({'nameservers': ['192.0.2.53'], 'search_domains': ['example.com']})
    text = resolver.render_dropin(conf)
    assert text == HEADER + '[Resolve]\nDNS=192.0.2.53\nDomains=example.com\n'
    assert resolver.parse_dropin(text) == conf


@pytest.mark.parametrize('params,field,text', [
    ({'nameservers': ['192.0.2.300']}, 'nameservers[0]', 'IPv4 or IPv6'),
    ({'nameservers': ['192.0.2.1', 'dns.example.com']}, 'nameservers[1]', 'IPv4 or IPv6'),
    ({'search_domains': ['-bad.example']}, 'search_domains[0]', 'RFC 1123'),
    ({'options': {'ndots': 16}}, 'options.ndots', '0-15'),
    ({'options': {'timeout': 'soon'}}, 'options.timeout', 'integer'),
    ({'options': {'rotate': 'yes'}}, 'options.rotate', 'flag'),
    ({'options': {'turbo': True}}, 'options.turbo', 'unknown resolver option'),
    ({'options': ['rotate']}, 'options', 'mapping'),
])
def test_resolver_bad_input_names_field(params, field, text):
    with pytest.raises(ValidationError) as e:
        resolver.normalize(params)
    assert e.value.field == field and text in str(e.value)


EXISTING = '127.0.0.1 localhost\n::1 ip6-localhost ip6-loopback\n10.9.9.9 old-node\n127.0.1.1 me.example.com me\n'
BLOCK = '# BEGIN seed.nodenet managed\n192.0.2.10 node1.example.com node1\n# END seed.nodenet managed\n'


def test_hosts_block_appended_then_replaced_in_place_rest_untouched():
    entries = hosts.normalize([{'ip': '192.0.2.10', 'aliases': ['node1.example.com', 'node1']}])
    out = hosts.merge(EXISTING, entries)
    assert out == EXISTING + '\n' + BLOCK
    assert hosts.merge(out, entries) == out
    # lines after the block stay after it; the block changes in place
    edited = out + '10.8.8.8 later\n'
    new = hosts.merge(edited, hosts.normalize([{'ip': '192.0.2.11', 'aliases': ['node2']}]))
    assert new == EXISTING + '\n# BEGIN seed.nodenet managed\n192.0.2.11 node2\n# END seed.nodenet managed\n10.8.8.8 later\n'


def test_hosts_empty_entries_remove_block_and_leave_file_without_block_alone():
    out = hosts.merge(EXISTING + '\n' + BLOCK + 'tail\n', [])
    assert out == EXISTING + '\ntail\n'
    assert hosts.merge('no newline at end', []) == 'no newline at end'
    # added then removed: the file is byte for byte as it was (the blank line before the block goes too)
    entries = hosts.normalize([{'ip': '192.0.2.10', 'aliases': ['node1']}])
    assert hosts.merge(hosts.merge(EXISTING, entries), []) == EXISTING


def test_hosts_same_ip_merged_in_order():
    entries = hosts.normalize([{'ip': '2001:DB8::1', 'aliases': ['a']}, {'ip': '192.0.2.1', 'aliases': ['b']},
                               {'ip': '2001:db8::1', 'aliases': ['c', 'a']}])
    assert entries == [('2001:db8::1', ['a', 'c']), ('192.0.2.1', ['b'])]


def test_hosts_exclusive_keeps_localhost_and_own_name():
    entries = hosts.normalize([{'ip': '192.0.2.10', 'aliases': ['node1']}])
    text = EXISTING + '\n# BEGIN seed.nodenet managed\n192.0.2.99 gone\n# END seed.nodenet managed\n10.7.7.7 x y\n'
    out = hosts.merge(text, entries, exclusive=True, hostname='me')
    assert out == ('127.0.0.1 localhost\n::1 ip6-localhost ip6-loopback\n127.0.1.1 me.example.com me\n'
                   '# BEGIN seed.nodenet managed\n192.0.2.10 node1\n# END seed.nodenet managed\n')
    assert hosts.merge(out, entries, exclusive=True, hostname='me') == out
    # the node's own name on a non-loopback address is kept too (FQDN hostname matches the short name)
    out = hosts.merge('192.0.2.5 me\n10.0.0.1 other\n', [], exclusive=True, hostname='me.example.com')
    assert out == '192.0.2.5 me\n'


@pytest.mark.parametrize('entries,field,text', [
    ([{'ip': '192.0.2.300', 'aliases': ['a']}], 'entries[0].ip', 'IPv4 or IPv6'),
    ([{'ip': '192.0.2.1', 'aliases': []}], 'entries[0].aliases', 'at least one'),
    ([{'ip': '192.0.2.1', 'aliases': ['ok'], 'name': 'x'}], 'entries[0].name', 'unknown option'),
    ([{'ip': '192.0.2.1', 'aliases': ['ok']}, {'ip': '192.0.2.2', 'aliases': ['ok', 'bad_name']}],
     'entries[1].aliases[1]', 'RFC 1123'),
    ([{'aliases': ['a']}], 'entries[0].ip', 'required'),
])
def test_hosts_bad_input_names_field(entries, field, text):
    with pytest.raises(ValidationError) as e:
        hosts.normalize(entries)
    assert e.value.field == field and text in str(e.value)


GOOD = [('node1', ('node1', None)), ('n', ('n', None)), ('123', ('123', None)), ('a-b-c', ('a-b-c', None)),
        ('node1.example.com', ('node1', 'example.com')), ('x' * 63, ('x' * 63, None)),
        ('.'.join(['a' * 63] * 3 + ['b' * 61]), ('a' * 63, '.'.join(['a' * 63] * 2 + ['b' * 61])))]
BAD = [('', 'required'), ('-node', 'RFC 1123'), ('node-', 'RFC 1123'), ('no_de', 'RFC 1123'), ('Node1', 'uppercase'),
       ('node1.', 'empty label'), ('.node1', 'empty label'), ('a..b', 'empty label'), ('x' * 64, '63'),
       ('.'.join(['a' * 63] * 4), '253'), ('nöde', 'RFC 1123'), ('a b', 'RFC 1123'), ('a.-b.c', 'RFC 1123')]


@pytest.mark.parametrize('name,expected', GOOD, ids=[g[0][:20] for g in GOOD])
def test_hostname_good(name, expected):
    assert hostname.normalize(name) == expected


@pytest.mark.parametrize('name,text', BAD, ids=['bad-%d' % i for i in range(len(BAD))])
def test_hostname_bad(name, text):
    with pytest.raises(ValidationError) as e:
        hostname.normalize(name)
    assert e.value.field == 'hostname' and text in str(e.value)
