# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compile: the model -> the canonical table that must be in the kernel. Pure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.model import BUILTIN, CHAIN_SPEC, ICMP_RATE, L4PROTO, _NFPROTO, _WHOLE, _cidrs


# ---------------------------------------------------------------- compile: model -> canonical table

def _builtin(name, **fields):
    fields['comment'] = BUILTIN + name
    return fields


def compile_model(model):
    """The canonical table the model needs: {'chain': {...}, 'rules': [...]}, or None for state=absent."""
    if model['state'] == 'absent':
        return None
    block = model['default_action'] == 'block'
    chain = dict(CHAIN_SPEC, policy='drop' if block else 'accept')
    rules = [_builtin('loopback', iifname=['lo'], verdict='accept')]
    # Neighbour discovery is only valid from the link itself (hop limit 255, RFC 4861), so it is
    # accepted without the rate limit that could otherwise starve IPv6 on a busy node.
    nd = _builtin('nd', nfproto='ipv6', l4proto='ipv6-icmp', hoplimit=255, verdict='accept',
                  icmpv6_type=sorted(['nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit',
                                      'nd-neighbor-advert', 'nd-redirect']))
    if block:
        rules += [
            _builtin('established', ct_state=['established', 'related'], verdict='accept'),
            _builtin('invalid', ct_state=['invalid'], verdict='drop'),
            # CVE-1999-0524: no timestamp or address mask replies, as Talos.
            _builtin('icmp-info', l4proto='icmp', verdict='drop',
                     icmp_type=sorted(['timestamp-request', 'timestamp-reply', 'address-mask-request', 'address-mask-reply'])),
            nd,
            _builtin('icmp', l4proto='icmp', limit={'rate': ICMP_RATE, 'per': 'second'}, verdict='accept'),
            _builtin('icmpv6', l4proto='ipv6-icmp', limit={'rate': ICMP_RATE, 'per': 'second'}, verdict='accept'),
        ]
    elif any(r['protocol'] in ('icmp', 'icmpv6') for r in model['rules']):
        # An accept-mode icmp/icmpv6 rule drops ICMP from outside its subnets; neighbour discovery
        # (from link-local addresses) and the errors of existing connections (path MTU discovery)
        # must not be among what it drops.
        rules += [
            nd,
            _builtin('icmp-errors', ct_state=['related'], l4proto='icmp', verdict='accept'),
            _builtin('icmpv6-errors', ct_state=['related'], l4proto='ipv6-icmp', verdict='accept'),
        ]
    for rule in model['rules']:
        for fam in (4, 6):
            if (rule['protocol'] == 'icmp' and fam == 6) or (rule['protocol'] == 'icmpv6' and fam == 4):
                continue
            allowed = rule['allowed'][fam]
            whole = allowed == _cidrs(_WHOLE[fam], fam)
            r = {'comment': rule['name'], 'nfproto': _NFPROTO[fam], 'l4proto': L4PROTO[rule['protocol']]}
            if rule['ports']:
                r['dport'] = [list(p) for p in rule['ports']]
            if block:
                if not allowed:
                    continue
                if not whole:
                    r['saddr'] = {'op': '==', 'set': allowed}
                r['verdict'] = 'accept'
            else:
                if whole:
                    continue
                if allowed:
                    r['saddr'] = {'op': '!=', 'set': allowed}
                r['verdict'] = 'drop'
            rules.append(r)
    return {'chain': chain, 'rules': rules}
