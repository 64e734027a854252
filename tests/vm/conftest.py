"""VM test tier: tests that need kernel features this machine's kernel lacks.

The host kernel has no bonding, 8021q, wireguard or dummy. ``scripts/test-vm`` boots a
Debian kernel that has them as modules (virtme-ng over this machine's own files), loads
them, sets ``NODENET_VM=1`` and runs ``pytest tests/vm`` inside that VM. Anywhere else
every test here is skipped with the reason ``VM tier: run scripts/test-vm``.

Everything a test does happens in network namespaces it created (``netns`` fixture);
the root namespace's links, addresses and routes are never touched.

Helpers (as fixtures, and as plain functions for use outside fixtures):
  netns                        a fresh, uniquely named network namespace; deleted after
  run_module(name, args, netns=None, check=False, diff=False)
                               run seed.nodenet.<name> (or a fully qualified module) on
                               localhost with ansible-playbook; returns its result dict
  ip_json(netns, *args)        ``ip -j -n <netns> <args>`` parsed
  ip(netns, *args)             ``ip -n <netns> <args>``; raises on failure
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]  # the collection root (galaxy.yml)
IN_VM = os.environ.get("NODENET_VM") == "1"
SKIP_REASON = "VM tier: run scripts/test-vm"

# Everything is slow under emulation (no KVM): Python start-up alone takes seconds.
ANSIBLE_TIMEOUT = int(os.environ.get("NODENET_VM_ANSIBLE_TIMEOUT", "900"))


def _is_vm_test(item) -> bool:
    try:
        return Path(str(item.path)).resolve().is_relative_to(HERE)
    except (OSError, ValueError):
        return False


def pytest_collection_modifyitems(config, items):
    if IN_VM:
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if _is_vm_test(item):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if IN_VM:
        return
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if isinstance(r.longrepr, tuple) and SKIP_REASON in str(r.longrepr[-1])]
    if skipped:
        terminalreporter.write_line(
            f"tests/vm: {len(skipped)} skipped: {SKIP_REASON} "
            "(needs bonding, 8021q, wireguard and dummy, which this kernel lacks)")


# --------------------------------------------------------------------------- ip


def _ip_binary() -> str:
    return shutil.which("ip") or next(
        (p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip") if os.path.exists(p)), "ip")


def ip(netns: str, *args: str) -> str:
    """Run ``ip -n <netns> <args>``; return stdout, raise AssertionError on failure."""
    cmd = [_ip_binary(), "-n", netns, *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed (rc={proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def ip_json(netns: str, *args: str):
    """Run ``ip -j -n <netns> <args>`` and return the parsed JSON ([] when ip prints nothing)."""
    cmd = [_ip_binary(), "-j", "-n", netns, *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed (rc={proc.returncode}): {proc.stderr.strip()}")
    out = proc.stdout.strip()
    return json.loads(out) if out else []


# ---------------------------------------------------------------------- netns


def _netns_add() -> str:
    name = f"nodenet-vm-{uuid.uuid4().hex[:8]}"
    subprocess.run([_ip_binary(), "netns", "add", name], check=True, capture_output=True, text=True)
    return name


def _netns_delete(name: str) -> None:
    subprocess.run([_ip_binary(), "netns", "delete", name], check=False, capture_output=True)


def quiet_ipv6(netns: str) -> None:
    """No IPv6 link-local addresses and no DAD on the links made from now on in `netns`: the kernel
    adds and confirms those asynchronously when a link comes up, so before/after snapshots of a
    rollback would otherwise depend on timing (emulation makes that window long)."""
    for conf in ("default", "all"):
        for key, val in (("addr_gen_mode", 1), ("accept_dad", 0)):
            subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-qw", f"net.ipv6.conf.{conf}.{key}={val}"],
                           check=True, capture_output=True)


@pytest.fixture
def netns():
    """A fresh, uniquely named network namespace (``ip netns add``); deleted afterwards."""
    name = _netns_add()
    try:
        ip(name, "link", "set", "lo", "up")
        yield name
    finally:
        _netns_delete(name)


# -------------------------------------------------------------------- ansible


class AnsibleRunner:
    """Runs one module of the collection on localhost through ansible-playbook.

    The collection is made importable as ``seed.nodenet`` by a symlink
    ``<tmp>/ansible_collections/seed/nodenet -> <repo>`` and ANSIBLE_COLLECTIONS_PATH=<tmp>,
    so the working tree is what runs. The configuration is hermetic (own ansible.cfg,
    own ANSIBLE_HOME and temp dirs: inside the VM the host's files, /root included, are
    read-only). Results come from a small callback plugin that writes them as JSON to a
    file, so nothing depends on parsing screen output.
    """

    def __init__(self, workdir: Path):
        self.workdir = workdir
        coll = workdir / "collections" / "ansible_collections" / "seed"
        coll.mkdir(parents=True)
        (coll / "nodenet").symlink_to(REPO, target_is_directory=True)
        home = workdir / "ansible_home"
        (home / "tmp").mkdir(parents=True)
        cfg = workdir / "ansible.cfg"
        cfg.write_text(
            "[defaults]\n"
            f"collections_path = {workdir / 'collections'}\n"
            "collections_scan_sys_path = false\n"
            f"callback_plugins = {HERE / 'callback_plugins'}\n"
            "callbacks_enabled = nodenet_vm_result\n"
            "retry_files_enabled = false\n"
            "gathering = explicit\n"
            "nocolor = true\n"
            "localhost_warning = false\n"
            "inventory_unparsed_warning = false\n"
            # Ansible's main loop polls its workers; at the default 1 ms that busy-wait
            # competes for the two emulated CPUs.
            "internal_poll_interval = 0.01\n"
            f"local_tmp = {home / 'tmp'}\n"
            f"remote_tmp = {home / 'remote_tmp'}\n"
            "[connection]\n"
            "pipelining = true\n",
            encoding="utf-8",
        )
        self.env = dict(os.environ)
        for key in [k for k in self.env if k.startswith("ANSIBLE_")]:
            del self.env[key]
        self.env.update({
            "ANSIBLE_CONFIG": str(cfg),
            "ANSIBLE_HOME": str(home),
            "ANSIBLE_COLLECTIONS_PATH": str(workdir / "collections"),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        bindir = Path(sys.executable).parent
        self.playbook_cmd = [str(bindir / "ansible-playbook")] if (bindir / "ansible-playbook").exists() \
            else [sys.executable, "-m", "ansible", "playbook"]
        self._count = 0

    def run(self, name: str, args: dict | None = None, netns: str | None = None,
            check: bool = False, diff: bool = False) -> dict:
        """Run module ``name`` (``seed.nodenet.<name>`` unless already qualified).

        ``netns``, when given, is added to the module arguments. Returns the task's
        result dict as Ansible reports it (``changed``, ``failed``, ``msg``, ``diff``…),
        failed or not. Raises AssertionError when Ansible produced no result at all
        (a missing module, a syntax error, a crash), with its output in the message.
        """
        fqcn = name if "." in name else f"seed.nodenet.{name}"
        module_args = dict(args or {})
        if netns is not None:
            module_args["netns"] = netns
        self._count += 1
        run_dir = self.workdir / f"run{self._count:03d}"
        run_dir.mkdir()
        playbook = [{
            "name": f"nodenet vm test: {fqcn}",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "tasks": [{
                "name": fqcn,
                fqcn: module_args,
                "check_mode": bool(check),
                "diff": bool(diff),
            }],
        }]
        # JSON is YAML: argument types survive exactly as given.
        (run_dir / "playbook.yml").write_text(json.dumps(playbook, indent=2), encoding="utf-8")
        result_file = run_dir / "result.json"
        env = dict(self.env, NODENET_VM_RESULT_FILE=str(result_file))
        cmd = [*self.playbook_cmd, "-i", "localhost,", str(run_dir / "playbook.yml")]
        proc = subprocess.run(cmd, cwd=run_dir, env=env, capture_output=True, text=True,
                              timeout=ANSIBLE_TIMEOUT, check=False)
        (run_dir / "stdout.txt").write_text(proc.stdout, encoding="utf-8")
        (run_dir / "stderr.txt").write_text(proc.stderr, encoding="utf-8")
        records = json.loads(result_file.read_text(encoding="utf-8")) if result_file.exists() else []
        mine = [r for r in records if r["task"] == fqcn]
        if not mine:
            raise AssertionError(
                f"ansible-playbook produced no result for {fqcn} (rc={proc.returncode})\n"
                f"--- args\n{json.dumps(module_args)}\n"
                f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
        result = dict(mine[-1]["result"])
        # ansible-core >= 2.19 keeps the outcome beside the result, not in it.
        status = mine[-1]["status"]
        result.setdefault("failed", status == "failed")
        if status in ("skipped", "unreachable"):
            result.setdefault(status, True)
        return result

    def playbook(self, path: str, extra_vars: dict | None = None, check: bool = False, diff: bool = False) -> dict:
        """Run a playbook of the project on localhost; returns {failed, changed, diffs, results}
        counted per task (a looped task counts once), from the JSON callback."""
        self._count += 1
        run_dir = self.workdir / f"run{self._count:03d}"
        run_dir.mkdir()
        result_file = run_dir / "result.json"
        env = dict(self.env, NODENET_VM_RESULT_FILE=str(result_file))
        cmd = [*self.playbook_cmd, "-i", "localhost,", "-c", "local",
               "-e", json.dumps(dict(extra_vars or {}, ansible_python_interpreter=sys.executable)), str(REPO / path)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        proc = subprocess.run(cmd, cwd=run_dir, env=env, capture_output=True, text=True,
                              timeout=ANSIBLE_TIMEOUT, check=False)
        records = json.loads(result_file.read_text(encoding="utf-8")) if result_file.exists() else []
        if not records:
            raise AssertionError(f"ansible-playbook ran no task (rc={proc.returncode})\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        diffs = []
        for r in records:
            d = r["result"].get("diff")
            diffs.extend(d if isinstance(d, list) else [d] if d else [])
            for item in r["result"].get("results") or []:
                d = item.get("diff")
                diffs.extend(d if isinstance(d, list) else [d] if d else [])
        return {"failed": sum(1 for r in records if r["status"] == "failed"),
                "changed": sum(1 for r in records if r["result"].get("changed")),
                "diffs": diffs, "results": records, "stdout": proc.stdout[-4000:]}


@pytest.fixture(scope="session")
def ansible_runner(tmp_path_factory):
    return AnsibleRunner(tmp_path_factory.mktemp("ansible"))


@pytest.fixture
def run_module(ansible_runner):
    """``run_module(name, args, netns=None, check=False, diff=False) -> result dict``."""
    return ansible_runner.run


@pytest.fixture(name="ip_json")
def ip_json_fixture():
    """``ip_json(netns, *args)``: ``ip -j -n <netns> <args>`` parsed."""
    return ip_json


@pytest.fixture(name="ip")
def ip_fixture():
    """``ip(netns, *args)``: ``ip -n <netns> <args>``; raises on failure."""
    return ip
