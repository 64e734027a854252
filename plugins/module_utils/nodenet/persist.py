# -*- coding: utf-8 -*-
# Copyright: seed.nodenet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persistence (persist: true): the declared state, an engine copy with an entry script and a boot unit.

The state file (persist_path, default /etc/nodenet/state.json, mode 0600) is JSON:
  {"version": 1, "netns": <name or null>, "purge": [<purge choices>], "spec": {<section>: <as declared>}}
`spec` holds the network module's sections as declared (links ... rules, vips, hostname, hosts,
resolver, firewall); WireGuard keys only as `private_key_file` paths (inline keys are refused). The
boot unit's command (`nodenet-apply apply <state file>`) hands `spec` to network.converge unchanged."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import sys

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.cmd import systemd_pid1
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.enginecopy import install_engine
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.errors import ValidationError

STATE_FILE = '/etc/nodenet/state.json'
UNIT_FILE = '/etc/systemd/system/nodenet.service'
ENGINE_DIR = '/usr/local/lib/seed-nodenet'


def read_json(path):
    """A JSON file's data, or None when it can't be read."""
    try:
        with open(path) as f:
            return json.load(f)
    except (IOError, OSError):
        return None


# network.target is pulled in, as a network manager does (systemd-networkd): on a node without one nothing else
# does, and then neither network-online.target nor sshd was ordered after this unit (the system tier saw both
# reached while it still ran)
UNIT_TEMPLATE = """# Written by seed.nodenet.network (persist: true); remove with persist: false.
[Unit]
Description=seed.nodenet: apply the declared node network (%(state)s)
DefaultDependencies=no
After=local-fs.target systemd-modules-load.service systemd-udev-settle.service%(devices)s
Before=network-pre.target network.target network-online.target
Wants=network-pre.target network.target%(devices)s

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=%(command)s

[Install]
WantedBy=multi-user.target
"""

ENTRY_TEMPLATE = """#!%(python)s
# seed.nodenet: apply a persisted node network with the engine copy next to this script.
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.agent import main
sys.exit(main(sys.argv[1:] or ['apply', %(state)r]))
"""


def _device_unit(ifname):
    """systemd's device unit for a network interface (systemd-escape --path /sys/subsystem/net/devices/<name>)."""
    out = []
    for i, ch in enumerate(ifname):
        if ch.isascii() and (ch.isalnum() or ch in ':_' or (ch == '.' and i > 0)):
            out.append(ch)
        else:
            out.append('\\x%02x' % ord(ch))
    return 'sys-subsystem-net-devices-%s.device' % ''.join(out)


def boot_devices(spec, netns):
    """The device units the boot unit waits for: the NICs the state configures but does not create (udev
    names and announces them while the unit may already run). None in a namespace (no udev there)."""
    if netns:
        return []
    return sorted(set(_device_unit(link['name']) for link in spec.get('links') or () if link.get('name') and not link.get('kind')))


def persist_files(spec, netns, purge, state_file, unit_file, engine_dir, python=None):
    """{path: content} of the persisted state, the entry script and the unit."""
    entry = os.path.join(engine_dir, 'nodenet-apply')
    state = {'version': 1, 'netns': netns, 'purge': sorted(purge), 'spec': spec}
    return {
        state_file: json.dumps(state, indent=1, sort_keys=True) + '\n',
        entry: ENTRY_TEMPLATE % {'python': python or sys.executable, 'state': state_file},
        unit_file: UNIT_TEMPLATE % {'state': state_file, 'command': '%s apply %s' % (entry, state_file),
                                    'devices': ''.join(' ' + d for d in boot_devices(spec, netns))},
    }


def _wants_link(unit_file):
    return os.path.join(os.path.dirname(unit_file), 'multi-user.target.wants', os.path.basename(unit_file))


def persist_plan(enabled, spec, netns, purge, state_file, unit_file, engine_dir, python=None):
    """[(path, before, after)] for what differs; after None = remove."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common
    if enabled:
        wanted = persist_files(spec, netns, purge, state_file, unit_file, engine_dir, python)
    else:
        wanted = dict((p, None) for p in persist_files({}, netns, purge, state_file, unit_file, engine_dir, python))
    out = []
    for path, after in sorted(wanted.items()):
        before = common.read(path)[0]
        if before != after:
            out.append((path, before, after))
    link = _wants_link(unit_file)
    if enabled and os.path.realpath(link) != os.path.realpath(unit_file):
        out.append((link, None, unit_file))
    if not enabled and os.path.lexists(link):
        out.append((link, unit_file, None))
    if not enabled and os.path.isdir(engine_dir):
        out.append((engine_dir, 'engine', None))
    return out


def persist_apply(enabled, changes, unit_file, engine_dir, run=None):
    """Write/remove what persist_plan() listed; install or remove the engine copy; reload systemd."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.files import common
    link = _wants_link(unit_file)
    if enabled:
        install_engine(engine_dir)
    for path, dummy, after in changes:
        if path == link:
            continue
        if path == engine_dir and after is None:
            shutil.rmtree(engine_dir, ignore_errors=True)
            continue
        if after is None:
            if os.path.lexists(path):
                os.unlink(path)
            continue
        d = os.path.dirname(path)
        if not os.path.isdir(d):
            os.makedirs(d, 0o755, exist_ok=True)
        mode = 0o755 if path.endswith('nodenet-apply') else (0o600 if path.endswith('.json') else 0o644)
        common.write(common.plan_file(path, after), mode=mode)
        os.chmod(path, mode)
    if enabled and os.path.realpath(link) != os.path.realpath(unit_file):
        if not os.path.isdir(os.path.dirname(link)):
            os.makedirs(os.path.dirname(link), 0o755, exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(unit_file, link)
    if not enabled and os.path.lexists(link):
        os.unlink(link)
    if run is not None and systemd_pid1() and unit_file == UNIT_FILE:
        run(['systemctl', 'daemon-reload'])


def load_state(path):
    data = read_json(path)
    if data is None:
        raise ValidationError('cannot read the persisted state %s' % path, 'persist_path')
    if data.get('version') != 1:
        raise ValidationError('%s has an unknown format version %r' % (path, data.get('version')), 'persist_path')
    return data


def apply_state(path):
    """The boot unit's command: apply the persisted state with the same engine. Returns a result dict."""
    from ansible_collections.seed.nodenet.plugins.module_utils.nodenet.network import converge
    data = load_state(path)
    result = converge(data['spec'], netns=data.get('netns'), purge=data.get('purge') or (), task='nodenet boot unit (%s)' % path)
    result.pop('_journal', None)
    return result
