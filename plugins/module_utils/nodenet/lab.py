# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab of Kubernetes-like nodes on one machine, made of Linux namespaces.

node      network namespace <lab>-<node> + its own UTS and mount namespaces, bound at
          /run/nodenet/ns/<lab>-<node>/{uts,mnt}; in the mount namespace /etc is an overlay of the
          machine's /etc (upper dir in the same directory) and /run is a tmpfs.
switch    network namespace <lab>-sw-<switch> holding one bridge `br0`.
cable     a veth pair: <link> in the node, a port of br0 in the switch.
uplink    network namespace <lab>-uplink on one switch: router (forwarding), DNS (dnsmasq) for the
          lab's domain, and NAT towards <lab>-internet, a namespace playing "the internet"
          (203.0.113.1, 2001:db8:ffff::1). The lab never has a link into the root namespace.
controller network namespace <lab>-controller on a switch, to run ansible-playbook over SSH.

What the lab made is recorded in /run/nodenet/lab/<lab>/lab.json, so `absent` removes exactly
that (processes, mounts and namespaces), whatever the description says by then.
Only creation configures the inside of a node (links up, addresses, routes, /etc files): later
runs never undo what a playbook changed there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import fcntl
import glob
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import time

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import NodenetError, ValidationError

NETNS_DIR = '/run/netns'
NS_DIR = '/run/nodenet/ns'
LAB_DIR = '/run/nodenet/lab'
RUN_DIR = '/run/nodenet'                      # the engine's node locks and confirm-or-revert records (agent.RUN_DIR)
UAPI_DIR = '/run/nodenet/wireguard'           # wireguard-go's sockets of a named namespace (wg.NETNS_UAPI_DIR)
NAME_RE = re.compile(r'^[a-z0-9]([a-z0-9-]*[a-z0-9])?$')
IFNAME_RE = re.compile(r'^[A-Za-z0-9_.-]{1,15}$')
RESERVED = ('uplink', 'internet', 'controller')
INTERNET = {'uplink': ['203.0.113.2/24', '2001:db8:ffff::2/64'], 'internet': ['203.0.113.1/24', '2001:db8:ffff::1/64']}
DEFAULT_GROUPS = ('control_plane', 'workers')


def _run(args, check=True, stdin=None):
    p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # pylint: disable=ansible-bad-function
                       check=False, universal_newlines=True)
    if check and p.returncode != 0:
        raise NodenetError("lab: '%s' failed (exit status %d): %s" % (' '.join(args), p.returncode, p.stderr.strip()))
    return p


def _ip(netns, *args, **kw):
    return _run(['ip', '-n', netns] + list(args), **kw)


# ------------------------------------------------------------------ the description
def normalize(desc):
    """Validate the description; returns it with every default filled in. Errors name the field."""
    if not isinstance(desc, dict):
        raise ValidationError('the lab description must be a mapping', 'lab')
    name = desc.get('name') or 'nodenet-lab'
    if not NAME_RE.match(name) or len(name) > 40:
        raise ValidationError("'%s' is not a lab name: lowercase letters, digits and '-', at most 40 characters" % name, 'lab.name')
    out = {'name': name, 'domain': desc.get('domain') or 'lab.example', 'ssh': bool(desc.get('ssh', False)),
           'python': desc.get('python')}
    switches = desc.get('switches')
    if switches is None:
        switches = [{'name': 'sw0'}]
    out['switches'] = []
    for i, sw in enumerate(switches):
        field = 'lab.switches[%d]' % i
        sw = {'name': sw} if isinstance(sw, str) else dict(sw or {})
        if not NAME_RE.match(str(sw.get('name', ''))):
            raise ValidationError("switch name '%s' must be lowercase letters, digits and '-'" % sw.get('name'), field + '.name')
        out['switches'].append({'name': sw['name'], 'mtu': _mtu(sw.get('mtu'), field + '.mtu')})
    sw_names = [s['name'] for s in out['switches']]
    _unique(sw_names, 'lab.switches')
    out['nodes'] = []
    for i, node in enumerate(desc.get('nodes') or []):
        field = 'lab.nodes[%d]' % i
        node = dict(node or {})
        nname = str(node.get('name', ''))
        if not NAME_RE.match(nname) or nname in RESERVED or nname.startswith('sw-'):
            raise ValidationError("node name '%s' must be lowercase letters, digits and '-', not %s and not starting with "
                                  "'sw-'" % (nname, '/'.join(RESERVED)), field + '.name')
        groups = node.get('groups', ['workers'])
        groups = [groups] if isinstance(groups, str) else list(groups)
        links = []
        for j, link in enumerate(node.get('links') or [{'name': 'eth0', 'switch': sw_names[0] if sw_names else None}]):
            lf = '%s.links[%d]' % (field, j)
            link = dict(link or {})
            link.setdefault('name', 'eth%d' % j)
            if not IFNAME_RE.match(str(link['name'])):
                raise ValidationError("link name '%s' is not a Linux interface name (1-15 characters)" % link['name'], lf + '.name')
            if link.get('switch') not in sw_names:
                raise ValidationError("switch '%s' is not one of the lab's switches (%s)" % (link.get('switch'), ', '.join(sw_names) or 'none'),
                                      lf + '.switch')
            links.append({'name': link['name'], 'switch': link['switch'], 'mtu': _mtu(link.get('mtu'), lf + '.mtu'),
                          'addresses': _cidrs(link.get('addresses'), lf + '.addresses')})
        _unique([lk['name'] for lk in links], field + '.links')
        out['nodes'].append({'name': nname, 'groups': groups, 'links': links, 'vars': dict(node.get('vars') or {})})
    _unique([n['name'] for n in out['nodes']], 'lab.nodes')
    for key in ('uplink', 'controller'):
        part = desc.get(key)
        if not part:
            out[key] = None
            continue
        field = 'lab.' + key
        part = dict(part)
        if part.get('switch') not in sw_names:
            raise ValidationError("switch '%s' is not one of the lab's switches (%s)" % (part.get('switch'), ', '.join(sw_names)), field + '.switch')
        addrs = _cidrs(part.get('addresses'), field + '.addresses')
        if not addrs:
            raise ValidationError('needs at least one address (CIDR) on its switch', field + '.addresses')
        out[key] = {'switch': part['switch'], 'addresses': addrs, 'mtu': _mtu(part.get('mtu'), field + '.mtu')}
        if key == 'uplink':
            out[key]['nat'] = bool(part.get('nat', True))
            out[key]['dns'] = bool(part.get('dns', True))
    return out


def _mtu(value, field):
    if value is None:
        return None
    try:
        mtu = int(value)
    except (TypeError, ValueError):
        mtu = 0
    if not 68 <= mtu <= 65535:
        raise ValidationError("MTU '%s' is out of range: 68-65535" % value, field)
    return mtu


def _cidrs(values, field):
    out = []
    for v in values or []:
        try:
            ipaddress.ip_interface(str(v))
        except ValueError:
            raise ValidationError("'%s' is not an address with a prefix length (192.0.2.10/24, 2001:db8::10/64)" % v, field)
        if '/' not in str(v):
            raise ValidationError("'%s' needs a prefix length (192.0.2.10/24)" % v, field)
        out.append(str(v))
    return out


def _unique(names, field):
    seen = set()
    for n in names:
        if n in seen:
            raise ValidationError("'%s' appears twice" % n, field)
        seen.add(n)


# ------------------------------------------------------------------ names
def node_ns(lab, node):
    return '%s-%s' % (lab, node)


def switch_ns(lab, switch):
    return '%s-sw-%s' % (lab, switch)


def port_name(owner, link):
    """The switch-side end of a cable: '<owner>-<link>' when it fits in 15 characters, else a hash."""
    name = '%s-%s' % (owner, link)
    if len(name) <= 15:
        return name
    return 'p' + hashlib.sha1(name.encode('utf-8')).hexdigest()[:12]


def lab_dir(lab):
    return os.path.join(LAB_DIR, lab)


def inventory_path(lab):
    return os.path.join(lab_dir(lab), 'inventory.yml')


# ------------------------------------------------------------------ kernel state
def netns_list():
    try:
        return set(os.listdir(NETNS_DIR))
    except OSError:
        return set()


def links(netns):
    p = _ip(netns, '-j', '-d', 'link', 'show', check=False)
    if p.returncode != 0:
        return {}
    return dict((lk['ifname'], lk) for lk in json.loads(p.stdout or '[]'))


def _ensure_private_dir():
    """NS_DIR as a private bind mount (like /run/netns), so mount namespaces can be bound in it."""
    os.makedirs(NS_DIR, mode=0o755, exist_ok=True)
    with open('/proc/self/mountinfo') as f:
        for line in f:
            cols = line.split()
            if cols[4] == NS_DIR:
                return
    _run(['mount', '--bind', NS_DIR, NS_DIR])
    _run(['mount', '--make-private', NS_DIR])


@contextlib.contextmanager
def _ns_dir_lock():
    """Held while NS_DIR's bind mount is made or removed and while a node binds its namespaces in it, so one lab
    never unmounts it while another lab is creating a node (labs run at the same time)."""
    os.makedirs(LAB_DIR, mode=0o755, exist_ok=True)
    fd = os.open(LAB_DIR, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _release_private_dir():
    """Unmount NS_DIR's bind mount and remove it once no lab has a node in it (call with _ns_dir_lock held)."""
    try:
        if os.listdir(NS_DIR):
            return
    except OSError:
        return
    with open('/proc/self/mountinfo') as f:
        if any(line.split()[4].startswith(NS_DIR + '/') for line in f):
            return
    while _is_mount(NS_DIR):
        if _run(['umount', NS_DIR], check=False).returncode != 0:
            return
    try:
        os.rmdir(NS_DIR)
    except OSError:
        pass


def engine_files(ns):
    """What the engine keeps outside the node for namespace `ns` when a module runs with netns: `ns` from the
    machine's own namespaces: its node lock and confirm-or-revert records in RUN_DIR (named after the
    namespace's nsfs device and inode, as agent.node_id names them) and its wireguard-go socket directory."""
    try:
        st = os.stat(os.path.join(NETNS_DIR, ns))
    except OSError:
        return []
    node = '%x-%x' % (st.st_dev, st.st_ino)
    found = glob.glob(os.path.join(RUN_DIR, '*-%s' % node)) + glob.glob(os.path.join(RUN_DIR, '*-%s.*' % node))
    return sorted(set(found)) + ([os.path.join(UAPI_DIR, ns)] if os.path.isdir(os.path.join(UAPI_DIR, ns)) else [])


def _is_mount(path):
    with open('/proc/self/mountinfo') as f:
        return any(line.split()[4] == path for line in f)


def node_alive(ns):
    d = os.path.join(NS_DIR, ns)
    return ns in netns_list() and _is_mount(os.path.join(d, 'mnt')) and _is_mount(os.path.join(d, 'uts'))


def nsenter(ns, mount=True):
    args = ['nsenter', '--net=%s' % os.path.join(NETNS_DIR, ns)]
    if mount:
        d = os.path.join(NS_DIR, ns)
        args += ['--uts=%s' % os.path.join(d, 'uts'), '--mount=%s' % os.path.join(d, 'mnt')]
    return args + ['--']


# ------------------------------------------------------------------ building blocks
class Lab(object):
    def __init__(self, desc, check_mode=False):
        self.d = desc
        self.name = desc['name']
        self.check = check_mode
        self.changes = []
        self.dir = lab_dir(self.name)
        self.made = self._load()

    # record of what exists -------------------------------------------------
    def _load(self):
        try:
            with open(os.path.join(self.dir, 'lab.json')) as f:
                return json.load(f)
        except (IOError, OSError, ValueError):
            return {'namespaces': [], 'nodes': []}

    def _save(self):
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        tmp = os.path.join(self.dir, '.lab.json.tmp')
        with open(tmp, 'w') as f:
            json.dump(self.made, f, indent=1, sort_keys=True)
        os.rename(tmp, os.path.join(self.dir, 'lab.json'))

    def _record(self, ns, node=False):
        if ns not in self.made['namespaces']:
            self.made['namespaces'].append(ns)
        if node and ns not in self.made['nodes']:
            self.made['nodes'].append(ns)
        self._save()

    def change(self, text):
        self.changes.append(text)
        return not self.check

    # namespaces ---------------------------------------------------------------
    def plain_ns(self, ns):
        if ns in netns_list():
            self._record(ns)
            return False
        if self.change('namespace %s' % ns):
            self._record(ns)
            _run(['ip', 'netns', 'add', ns])
            _ip(ns, 'link', 'set', 'lo', 'up')
        return True

    def node(self, node):
        ns = node_ns(self.name, node['name'])
        if node_alive(ns):
            self._record(ns, node=True)
            return False
        if not self.change('node %s' % node['name']):
            return True
        self._record(ns, node=True)
        if ns in netns_list():       # a half-made node: start again
            self.remove_ns(ns)
            self._record(ns, node=True)
        with _ns_dir_lock():
            self._make_node(node, ns)
        _ip(ns, 'link', 'set', 'lo', 'up')
        return True

    def _make_node(self, node, ns):
        _ensure_private_dir()
        d = os.path.join(NS_DIR, ns)
        shutil.rmtree(d, ignore_errors=True)
        for sub in ('etc/upper', 'etc/work'):
            os.makedirs(os.path.join(d, sub), mode=0o755)
        for f in ('mnt', 'uts'):
            open(os.path.join(d, f), 'w').close()
        up = os.path.join(d, 'etc', 'upper')
        fqdn = '%s.%s' % (node['name'], self.d['domain'])
        _write(os.path.join(up, 'hostname'), node['name'] + '\n')
        _write(os.path.join(up, 'hosts'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
               '127.0.1.1\t%s %s\n' % (fqdn, node['name']))
        _write(os.path.join(up, 'resolv.conf'), self._resolv_conf(node))
        _run(['ip', 'netns', 'add', ns])
        # In the node's new mount namespace: drop the copies of other namespaces' bind mounts (they would keep
        # those namespaces alive), then /etc as an overlay and /run as a tmpfs of its own.
        script = ('umount -R -l %(netns)s 2>/dev/null; umount -R -l %(nsdir)s 2>/dev/null; '
                  'mount -t overlay nodenet-etc -o lowerdir=/etc,upperdir=%(d)s/etc/upper,workdir=%(d)s/etc/work /etc && '
                  'mount -t tmpfs -o mode=0755 nodenet-run /run && mkdir -p /run/lock && hostname %(host)s'
                  % {'netns': NETNS_DIR, 'nsdir': NS_DIR, 'd': d, 'host': node['name']})
        _run(['nsenter', '--net=%s' % os.path.join(NETNS_DIR, ns), 'unshare', '--mount=%s' % os.path.join(d, 'mnt'),
              '--uts=%s' % os.path.join(d, 'uts'), '--propagation', 'private', 'sh', '-c', script])

    def _resolv_conf(self, node):
        up = self.d.get('uplink')
        servers = []
        if up and up['dns']:
            nets = [ipaddress.ip_interface(a).network for lk in node['links'] if lk['switch'] == up['switch'] for a in lk['addresses']]
            servers = [a.split('/', 1)[0] for a in up['addresses'] if any(ipaddress.ip_interface(a).ip in n for n in nets)]
        if not servers:
            return '# seed.nodenet lab node: no resolver yet\n'
        return ''.join('nameserver %s\n' % s for s in servers) + 'search %s\n' % self.d['domain']

    def remove_ns(self, ns):
        """Stop every process in the namespace, unmount its bound namespaces, delete it."""
        if ns in netns_list():
            pids = _run(['ip', 'netns', 'pids', ns], check=False).stdout.split()
            _kill([int(p) for p in pids if p.isdigit()])
        d = os.path.join(NS_DIR, ns)
        for f in ('mnt', 'uts'):
            path = os.path.join(d, f)
            if os.path.exists(path) and _is_mount(path):
                _run(['umount', path], check=False)
        for path in engine_files(ns):
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        if ns in netns_list():
            _run(['ip', 'netns', 'del', ns], check=False)
        shutil.rmtree(d, ignore_errors=True)

    # switches and cables --------------------------------------------------------
    def switch(self, sw):
        ns = switch_ns(self.name, sw['name'])
        changed = self.plain_ns(ns)
        have = links(ns) if not changed else {}
        br = have.get('br0')
        if br is None:
            if self.change('switch %s' % sw['name']):
                args = ['link', 'add', 'br0'] + (['mtu', str(sw['mtu'])] if sw['mtu'] else []) + ['type', 'bridge']
                _ip(ns, *args)
                _ip(ns, 'link', 'set', 'br0', 'up')
            return True
        # br0's own MTU follows its ports (the kernel keeps it at their minimum): only cables are compared
        return changed

    def cable(self, ns, link, switch, mtu, owner, new_end):
        """A veth: `link` in `ns`, its peer a port of br0 in the switch. Returns True when created."""
        swns = switch_ns(self.name, switch)
        port = port_name(owner, link)
        mtu = mtu or dict((s['name'], s['mtu']) for s in self.d['switches'])[switch]
        ports = links(swns) if not self.check or swns in netns_list() else {}
        mine = links(ns) if ns in netns_list() else {}
        if port in ports and link in mine:
            p = ports[port]
            if mtu and p.get('mtu') != mtu and self.change('cable %s:%s mtu %d' % (owner, link, mtu)):
                _ip(swns, 'link', 'set', port, 'mtu', str(mtu))
            return False
        if not self.change('cable %s:%s - %s' % (owner, link, switch)):
            return True
        if port in ports:
            _ip(swns, 'link', 'del', port)
        if link in mine:
            _ip(ns, 'link', 'del', link)
        m = ['mtu', str(mtu)] if mtu else []
        _ip(ns, 'link', 'add', link, *m + ['type', 'veth', 'peer', 'name', port] + m + ['netns', swns])
        _ip(swns, 'link', 'set', port, 'master', 'br0', 'up')
        new_end.append(link)
        return True

    def configure_end(self, ns, link, addresses, gateway=None):
        _ip(ns, 'link', 'set', link, 'up')
        for a in addresses:
            _ip(ns, 'addr', 'add', a, 'dev', link, *(['nodad'] if ':' in a else []))

    def default_routes(self, ns, link):
        up = self.d.get('uplink')
        if not up or not link['addresses'] or link['switch'] != up['switch']:
            return
        for a in link['addresses']:
            net = ipaddress.ip_interface(a).network
            for g in up['addresses']:
                gw = ipaddress.ip_interface(g).ip
                if gw in net:
                    _ip(ns, '-%d' % net.version, 'route', 'replace', 'default', 'via', str(gw), 'dev', link['name'])

    # daemons ---------------------------------------------------------------------
    def uplink(self):
        up = self.d['uplink']
        ns = '%s-uplink' % self.name
        created = []
        changed = self.plain_ns(ns)
        changed |= self.cable(ns, 'lan0', up['switch'], up['mtu'], 'uplink', created)
        if created:
            self.configure_end(ns, 'lan0', up['addresses'])
            for key in ('net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'):
                _run(nsenter(ns, mount=False) + ['sysctl', '-q', '-w', '%s=1' % key])
        if up['nat']:
            inet = '%s-internet' % self.name
            changed |= self.plain_ns(inet)
            mine = links(ns) if ns in netns_list() else {}
            if 'wan0' not in mine and self.change('uplink wan0 - internet'):
                _ip(ns, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', inet)
                self.configure_end(ns, 'wan0', INTERNET['uplink'])
                self.configure_end(inet, 'eth0', INTERNET['internet'])
                nft = ('table inet nodenet_lab {\n chain postrouting {\n  type nat hook postrouting priority srcnat;\n'
                       '  oifname "wan0" masquerade\n }\n}\n')
                _run(nsenter(ns, mount=False) + ['nft', '-f', '-'], stdin=nft)
                changed = True
        if up['dns']:
            changed |= self.dnsmasq(ns)
        return changed

    def _pidfile_alive(self, path):
        try:
            with open(path) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return True
        except (IOError, OSError, ValueError):
            return False

    def dnsmasq(self, ns):
        up = self.d['uplink']
        hosts = os.path.join(self.dir, 'dns-hosts')
        lines = []
        for a in up['addresses']:
            lines.append('%s uplink.%s uplink\n' % (a.split('/', 1)[0], self.d['domain']))
        lines += ['%s internet.%s internet\n' % (a.split('/', 1)[0], self.d['domain']) for a in INTERNET['internet']] if up['nat'] else []
        for node in self.d['nodes']:
            for lk in node['links']:
                for a in lk['addresses']:
                    lines.append('%s %s.%s %s\n' % (a.split('/', 1)[0], node['name'], self.d['domain'], node['name']))
        text = ''.join(lines)
        pidfile = os.path.join(self.dir, 'dnsmasq.pid')
        old = None
        if os.path.exists(hosts):
            with open(hosts) as f:
                old = f.read()
        alive = self._pidfile_alive(pidfile)
        if alive and old == text:
            return False
        if not self.change('dnsmasq in %s' % ns):
            return True
        if shutil.which('dnsmasq') is None:
            raise NodenetError("lab: the uplink's DNS needs dnsmasq (Debian/Ubuntu package dnsmasq-base): run scripts/setup")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        _write(hosts, text)
        if alive:
            with open(pidfile) as f:
                os.kill(int(f.read().strip()), signal.SIGHUP)    # re-reads the hosts file
            return True
        listen = ','.join(a.split('/', 1)[0] for a in up['addresses'])
        _run(nsenter(ns, mount=False) + [
            'dnsmasq', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--addn-hosts=%s' % hosts,
            '--listen-address=%s' % listen, '--bind-interfaces', '--except-interface=lo', '--pid-file=%s' % pidfile,
            '--local=/%s/' % self.d['domain'], '--domain=%s' % self.d['domain'], '--user=root', '--group=root'])
        return True

    def ssh_keys(self):
        key = os.path.join(self.dir, 'id_ed25519')
        hostkey = os.path.join(self.dir, 'ssh_host_ed25519_key')
        if os.path.exists(key) and os.path.exists(hostkey):
            return False
        if not self.change('ssh keys'):
            return True
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        for path, comment in ((key, 'nodenet-lab-%s' % self.name), (hostkey, 'nodenet-lab-host')):
            if not os.path.exists(path):
                _run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path])
        with open(key + '.pub') as f:
            _write(os.path.join(self.dir, 'authorized_keys'), f.read())
        _write(os.path.join(self.dir, 'sshd_config'), (
            'Port 22\nHostKey /run/nodenet-ssh/ssh_host_ed25519_key\nAuthorizedKeysFile /run/nodenet-ssh/authorized_keys\n'
            'PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n'
            'UsePAM no\nStrictModes no\nPidFile /run/sshd.pid\nSubsystem sftp internal-sftp\nAcceptEnv LANG LC_*\n'))
        return True

    def sshd(self, ns):
        check = _run(nsenter(ns) + ['sh', '-c', 'kill -0 "$(cat /run/sshd.pid 2>/dev/null)" 2>/dev/null'], check=False)
        if check.returncode == 0:
            return False
        if not self.change('sshd in %s' % ns):
            return True
        sshd = shutil.which('sshd') or '/usr/sbin/sshd'
        if not os.path.exists(sshd):
            raise NodenetError("lab: ssh: true needs sshd (Debian/Ubuntu package openssh-server): run scripts/setup")
        # /run/nodenet is hidden inside the node (its /run is its own): its sshd reads copies in the node's /run.
        for f in ('sshd_config', 'ssh_host_ed25519_key', 'authorized_keys'):
            with open(os.path.join(self.dir, f)) as src:
                _run(nsenter(ns) + ['sh', '-c', 'umask 077 && mkdir -p /run/nodenet-ssh && cat > /run/nodenet-ssh/%s' % f],
                     stdin=src.read())
        _run(nsenter(ns) + ['sh', '-c', 'mkdir -p -m 0755 /run/sshd && exec %s -f /run/nodenet-ssh/sshd_config' % sshd])
        return True

    # whole lab ---------------------------------------------------------------------
    def present(self):
        d = self.d
        wanted = set()
        for sw in d['switches']:
            wanted.add(switch_ns(self.name, sw['name']))
            self.switch(sw)
        if d['ssh']:
            self.ssh_keys()
        for node in d['nodes']:
            ns = node_ns(self.name, node['name'])
            wanted.add(ns)
            created = self.node(node)
            new_ends = []
            for lk in node['links']:
                self.cable(ns, lk['name'], lk['switch'], lk['mtu'], node['name'], new_ends)
            if not self.check:
                for lk in node['links']:
                    if lk['name'] in new_ends:
                        self.configure_end(ns, lk['name'], lk['addresses'])
                for lk in node['links']:
                    if lk['name'] in new_ends or created:
                        self.default_routes(ns, lk)
            if d['ssh']:
                self.sshd(ns)
        if d['uplink']:
            wanted.add('%s-uplink' % self.name)
            if d['uplink']['nat']:
                wanted.add('%s-internet' % self.name)
            self.uplink()
        if d['controller']:
            c = d['controller']
            ns = '%s-controller' % self.name
            wanted.add(ns)
            self.plain_ns(ns)
            new = []
            self.cable(ns, 'eth0', c['switch'], c['mtu'], 'controller', new)
            if new:
                self.configure_end(ns, 'eth0', c['addresses'])
        # whatever an earlier description made and this one no longer has
        for ns in list(self.made['namespaces']):
            if ns not in wanted and self.change('remove %s' % ns):
                self.remove_ns(ns)
                self.made['namespaces'].remove(ns)
                if ns in self.made['nodes']:
                    self.made['nodes'].remove(ns)
                self._save()
        if not self.check:
            self.write_inventory()
        return self.changes

    def absent(self):
        # nodes first (their processes), then the switches they were cabled to
        order = sorted(self.made['namespaces'], key=lambda ns: (ns not in self.made['nodes'], ns))
        for ns in order:
            if self.change('remove %s' % ns):
                self.remove_ns(ns)
        pidfile = os.path.join(self.dir, 'dnsmasq.pid')
        if self._pidfile_alive(pidfile) and self.change('stop dnsmasq'):
            with open(pidfile) as f:
                _kill([int(f.read().strip())])
        if os.path.isdir(self.dir) and self.change('remove %s' % self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        if not self.check:
            with _ns_dir_lock():         # the last lab out unmounts NS_DIR (another lab's nodes keep it)
                _release_private_dir()
        return self.changes

    # inventory ---------------------------------------------------------------------
    def inventory(self, ssh=False):
        groups = {}
        for node in self.d['nodes']:
            hv = {'ansible_netns_name': node_ns(self.name, node['name']),
                  'nodenet_lab_links': [dict((k, lk[k]) for k in ('name', 'switch', 'mtu', 'addresses')) for lk in node['links']]}
            addrs = [a.split('/', 1)[0] for lk in node['links'] for a in lk['addresses']]
            if addrs:
                hv['ansible_host'] = addrs[0]      # as on real nodes; the netns connection uses ansible_netns_name
            hv.update(node['vars'])
            for g in node['groups']:
                groups.setdefault(g, {})[node['name']] = hv
        allvars = {'nodenet_lab_name': self.name, 'nodenet_lab_domain': self.d['domain']}
        if self.d['python']:
            allvars['ansible_python_interpreter'] = self.d['python']
        if ssh:
            allvars.update({'ansible_connection': 'ssh', 'ansible_user': 'root',
                            'ansible_ssh_private_key_file': os.path.join(self.dir, 'id_ed25519'),
                            'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null '
                                                       '-o LogLevel=ERROR'})
        else:
            allvars['ansible_connection'] = 'seed.nodenet.netns'
        return {'all': {'vars': allvars, 'children': dict((g, {'hosts': h}) for g, h in sorted(groups.items()))}}

    def write_inventory(self):
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        files = [('inventory.yml', False)]
        if self.d['ssh']:
            if any(not any(lk['addresses'] for lk in n['links']) for n in self.d['nodes']):
                raise ValidationError('ssh: true needs an address on a link of every node (the SSH inventory connects to it)',
                                      'lab.nodes')
            files.append(('inventory-ssh.yml', True))
        for fname, ssh in files:
            text = ('# Written by seed.nodenet.lab for the lab %s; rewritten on every run.\n' % self.name
                    + json.dumps(self.inventory(ssh), indent=2, sort_keys=True) + '\n')
            path = os.path.join(self.dir, fname)
            old = None
            if os.path.exists(path):
                with open(path) as f:
                    old = f.read()
            if old != text:
                self.change('inventory %s' % path)
                _write(path, text)


def _write(path, text):
    tmp = path + '.nodenet-tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.rename(tmp, path)


def _kill(pids):
    """TERM, then KILL what is still there after a bounded wait."""
    pids = [p for p in pids if p != os.getpid()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except OSError:
                pass
        for dummy in range(100):
            pids = [p for p in pids if _exists(p)]
            if not pids:
                return
            time.sleep(0.02)


def _exists(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
        return state != 'Z'
    except (IOError, OSError, IndexError):
        return False


def neighbour_limit():
    """This machine's neighbour table limit, the smaller of IPv4's and IPv6's gc_thresh3 (None if unreadable).

    Every namespace shares one neighbour (ARP / NDP) table per address family, limited by the root namespace's
    net.ipv4/ipv6.neigh.default.gc_thresh3; past it the kernel refuses new entries ("neighbor table overflow").
    """
    limits = []
    for fam in ('ipv4', 'ipv6'):
        try:
            with open('/proc/sys/net/%s/neigh/default/gc_thresh3' % fam) as f:
                limits.append(int(f.read()))
        except (IOError, OSError, ValueError):
            pass
    return min(limits) if limits else None


def neighbour_warning(nodes):
    """A warning when a lab of this many nodes, each reaching every other, outgrows the machine's neighbour table:
    traffic between lab nodes is then lost - a limit of the lab (one kernel), not of a real cluster (a table per node).
    """
    limit = neighbour_limit()
    needed = nodes * nodes
    if limit is None or needed <= limit:
        return None
    return ('a lab of %d nodes that all reach each other needs about %d neighbour entries per address family, more '
            'than this machine\'s net.ipv4/ipv6.neigh.default.gc_thresh3 (%s), one table every namespace shares: expect '
            'lost traffic between nodes (dmesg: "neighbor table overflow"); keep a full-mesh lab at %d nodes or fewer, '
            'or raise gc_thresh3 on this machine yourself' % (nodes, needed, limit, int(limit ** 0.5)))


def converge(description, state='present', check_mode=False):
    desc = normalize(description)
    lab = Lab(desc, check_mode)
    changes = lab.present() if state == 'present' else lab.absent()
    warning = neighbour_warning(len(desc['nodes'])) if state == 'present' else None
    return {'changed': bool(changes), 'changes': changes, 'name': desc['name'], 'warnings': [warning] if warning else [],
            'inventory': inventory_path(desc['name']) if state == 'present' else None,
            'inventory_ssh': os.path.join(lab.dir, 'inventory-ssh.yml') if state == 'present' and desc['ssh'] else None,
            'namespaces': sorted(lab.made['namespaces']) if state == 'present' else []}
