# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lock-out guard: a model of the chain (evaluate) and the SSH session it must not cut. Pure but
for reading the environment."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.nft.model import _NFPROTO, text_type


# ---------------------------------------------------------------- evaluate (the lock-out guard's model of the chain)

def _in_set(addr, cidrs):
    return any(addr in ipaddress.ip_network(c) for c in cidrs)


def _rule_matches(rule, pkt):
    for key in rule:
        if key in ('comment', 'verdict', 'limit'):
            continue
        if key == 'iifname':
            ok = pkt['iifname'] in rule['iifname']
        elif key == 'ct_state':
            ok = pkt['ct_state'] in rule['ct_state']
        elif key == 'nfproto':
            ok = _NFPROTO[pkt['src'].version] == rule['nfproto']
        elif key == 'l4proto':
            ok = pkt['l4proto'] == rule['l4proto']
        elif key == 'saddr':
            inside = _NFPROTO[pkt['src'].version] == rule['nfproto'] and _in_set(pkt['src'], rule['saddr']['set'])
            ok = inside if rule['saddr']['op'] == '==' else (not inside and _NFPROTO[pkt['src'].version] == rule['nfproto'])
        elif key == 'dport':
            ok = pkt.get('dport') is not None and any(lo <= pkt['dport'] <= hi for lo, hi in rule['dport'])
        else:   # ICMP types, hop limit, unknown expressions: not what a TCP/UDP packet carries
            ok = False
        if not ok:
            return False
    return True


def evaluate(table, src, l4proto='tcp', dport=None, iifname='eth0', ct_state='new'):
    """(verdict, why) the chain gives a packet: the first matching rule's verdict, else the policy.

    `why` is the rule's comment, or 'default action'. With no table everything is accepted.
    """
    if table is None:
        return 'accept', 'no table'
    pkt = {'src': ipaddress.ip_address(text_type(src)), 'l4proto': l4proto, 'dport': dport,
           'iifname': iifname, 'ct_state': ct_state}
    for rule in table['rules']:
        if 'verdict' in rule and _rule_matches(rule, pkt):
            return rule['verdict'], rule.get('comment') or 'unnamed rule'
    return ('drop' if (table.get('chain') or {}).get('policy') == 'drop' else 'accept'), 'default action'


def ssh_connection(environ=None):
    """{'client': ip, 'port': server port} of the SSH session Ansible runs in, or None.

    Read from SSH_CONNECTION (client addr, client port, server addr, server port) or SSH_CLIENT
    (client addr, client port, server port). With `environ` None: this process's environment,
    then its ancestors' (become/sudo usually drops these variables from the module's own).
    """
    envs = [environ] if environ is not None else _ancestor_envs()
    for env in envs:
        for var, idx in (('SSH_CONNECTION', 3), ('SSH_CLIENT', 2)):
            parts = (env.get(var) or '').split()
            if len(parts) > idx:
                try:
                    addr = ipaddress.ip_address(text_type(parts[0]).split('%')[0])
                    port = int(parts[idx])
                except ValueError:
                    continue
                if addr.version == 6 and addr.ipv4_mapped:
                    addr = addr.ipv4_mapped
                return {'client': str(addr), 'port': port, 'variable': var}
    return None


def _ancestor_envs():
    envs = [dict(os.environ)]
    pid = os.getppid()
    for dummy in range(16):
        if pid <= 1:
            break
        try:
            with open('/proc/%d/environ' % pid, 'rb') as fh:
                raw = fh.read().decode('utf-8', 'replace')
            envs.append(dict(item.split('=', 1) for item in raw.split('\0') if '=' in item))
            with open('/proc/%d/status' % pid) as fh:
                pid = int([ln.split()[1] for ln in fh if ln.startswith('PPid:')][0])
        except (IOError, OSError, ValueError, IndexError):
            break
    return envs


def lockout(table, ssh):
    """A message when `table` would drop a new SSH connection like the one Ansible uses, else None."""
    if table is None or not ssh:
        return None
    src = ipaddress.ip_address(ssh['client'])
    if src.is_loopback:
        return None
    verdict, why = evaluate(table, src, 'tcp', ssh['port'])
    if verdict == 'accept':
        return None
    if why == 'default action':
        reason = "the default action is block and no rule accepts tcp port %d from %s" % (ssh['port'], src)
    else:
        reason = "rule '%s' drops tcp port %d from %s" % (why, ssh['port'], src)
    return ("this policy would lock Ansible out: it connects over SSH from %s to port %d (%s) and %s. "
            "Add a rule accepting tcp port %d from that address, or set allow_lockout: true if that is intended"
            % (src, ssh['port'], ssh['variable'], reason, ssh['port']))
