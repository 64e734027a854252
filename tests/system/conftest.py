"""System tier: a Debian 12 machine that boots systemd, reached by Ansible over SSH.

``scripts/test-system`` sets ``NODENET_SYSTEM=1`` and runs ``pytest tests/system``; anywhere
else every test here is skipped with the reason ``system tier: run scripts/test-system``.

The ``node`` fixture (one per session) takes the image ``scripts/system-image`` built or found
in its cache, puts a copy-on-write overlay on it (the cached image is never written) and boots
it with qemu under emulation (``-accel tcg``): the distribution kernel and initrd from /boot,
systemd as PID 1. Its NICs:
  eth0  qemu's user-mode network with ``restrict=on`` (no way out of the VM) and one port
        forward, 127.0.0.1:<free port> -> 10.0.2.15:22: the controller's SSH path
  eth1, eth2  two NICs on a qemu hub of their own: a test network with nothing else on it
Reboots are real (``systemctl reboot`` inside the guest; qemu restarts it on the same disk).
At the end the guest is powered off and qemu stopped; the overlay and every temp file go.

The tests run in file order: each boot is shared by several checks (boots are slow under
emulation), so a later test depends on the earlier ones having run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
IN_TIER = os.environ.get("NODENET_SYSTEM") == "1"
SKIP_REASON = "system tier: run scripts/test-system"
BOOT_TIMEOUT = int(os.environ.get("NODENET_SYSTEM_BOOT_TIMEOUT", "900"))
ANSIBLE_TIMEOUT = int(os.environ.get("NODENET_SYSTEM_ANSIBLE_TIMEOUT", "900"))
T0 = time.monotonic()
ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[A-Z])")
SPIN = re.compile(r"^\[[ *]*\] | \([^()]*\)$")   # systemd's spinner and its job timer


def _load():
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


QEMU = {"pid": None}   # the running VM, for the CPU time in the progress lines


def qemu_cpu():
    """CPU seconds the VM's qemu has used so far (user + system): the tier's cost without the machine's load,
    which decides how much of it the VM gets."""
    try:
        fields = Path("/proc/%d/stat" % QEMU["pid"]).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, TypeError, IndexError, ValueError):
        return None


def say(msg):
    """Progress on the terminal (pytest runs with -s in scripts/test-system): time, this machine's load and the
    CPU time qemu has had."""
    cpu = qemu_cpu()
    vm = "" if cpu is None else " vm-cpu %4.0fs" % cpu
    sys.stderr.write("system [%4ds load %5s%s] %s\n" % (time.monotonic() - T0, _load(), vm, msg))
    sys.stderr.flush()


def pytest_runtest_logstart(nodeid, location):
    if IN_TIER:
        say("--> %s" % nodeid.split("::")[-1])


def pytest_runtest_logreport(report):
    if not IN_TIER or (report.when != "call" and report.outcome == "passed"):
        return
    if report.when == "call" or report.outcome != "passed":
        why = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            why = ": " + str(report.longrepr[2])
        sys.stderr.write("\n")   # pytest -v has just written PASSED/FAILED without a line end
        say("<-- %s %s in %.0fs%s" % (report.nodeid.split("::")[-1], report.outcome.upper(), report.duration, why))


def pytest_collection_modifyitems(config, items):
    if IN_TIER:
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if Path(str(item.path)).resolve().is_relative_to(HERE):
            item.add_marker(skip)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(what, fn, timeout, interval=1.0):
    """fn() until it returns a true value (returned) or timeout seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ds waiting for %s (last: %r)" % (timeout, what, last))
        time.sleep(interval)


class Node:
    """The VM: qemu process, SSH, ansible-playbook against it."""

    def __init__(self, image_dir: Path, work: Path):
        self.image_dir = image_dir
        self.work = work
        self.key = work / "id_ed25519"
        shutil.copy(image_dir / "id_ed25519", self.key)
        os.chmod(self.key, 0o600)
        self.disk = work / "disk.qcow2"
        self.serial = work / "serial.log"
        self.port = _free_port()
        self.qemu = None
        self.booted = False   # sshd has answered since qemu started
        self.boots = []       # per boot: wall/CPU time at its start and when SSH answered
        self.cp_dir = work / "cp"
        self.cp_dir.mkdir()
        self.ansible_log = work / "ansible.log"
        self._write_ansible_files()

    # ------------------------------------------------------------------ qemu
    def start(self):
        # -cpu qemu64 (x86-64's baseline, as Debian 12 requires) rather than max: with max, glibc and Python pick
        # their AVX2 code paths, which TCG (QEMU 7.2) runs through helper calls. no_timer_check: the kernel's
        # check that the timer interrupt arrives through the IO-APIC fails when the host is busy enough
        # ("IO-APIC + timer doesn't work!", a panic 0.08 s into the boot at load 70)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw",
                        "-b", str(self.image_dir / "root.img"), str(self.disk)], check=True)
        # one vCPU by default: with two on a loaded host, a guest CPU waiting for the other (IPIs, TLB
        # shootdowns) spins while the other's qemu thread is not scheduled; at load 40 boot 1 had used 72 CPU-s
        # and was still starting systemd-resolved after 9 min, with one it reached SSH after 65 CPU-s
        cmd = [
            "qemu-system-x86_64", "-accel", "tcg", "-cpu", os.environ.get("NODENET_SYSTEM_QEMU_CPU", "qemu64"),
            "-m", "1024", "-smp", os.environ.get("NODENET_SYSTEM_CPUS", "1"),
            "-no-user-config", "-nodefaults", "-display", "none", "-monitor", "none",
            "-serial", "file:%s" % self.serial,
            "-kernel", str(self.image_dir / "vmlinuz"), "-initrd", str(self.image_dir / "initrd.img"),
            "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1 no_timer_check quiet loglevel=3 "
                       "systemd.show_status=auto mitigations=off udev.event_timeout=900",
            "-drive", "file=%s,if=virtio,format=qcow2,discard=unmap" % self.disk,
            "-netdev", "user,id=mgmt,restrict=on,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:%d-10.0.2.15:22" % self.port,
            "-device", "virtio-net-pci,netdev=mgmt,mac=52:54:00:12:34:10",
            "-netdev", "hubport,id=t1,hubid=1", "-device", "virtio-net-pci,netdev=t1,mac=52:54:00:12:34:11",
            "-netdev", "hubport,id=t2,hubid=1", "-device", "virtio-net-pci,netdev=t2,mac=52:54:00:12:34:12",
            "-device", "virtio-rng-pci",
        ]
        (self.work / "qemu.cmd").write_text(" ".join(cmd) + "\n")
        self.qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(self.work / "qemu.out", "w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        QEMU["pid"] = self.qemu.pid
        self.boots.append({"t0": time.monotonic(), "cpu0": 0.0})
        if os.environ.get("NODENET_SYSTEM_PIDFILE"):
            Path(os.environ["NODENET_SYSTEM_PIDFILE"]).write_text("%d\n" % self.qemu.pid)
        say("qemu started (pid %d, SSH on 127.0.0.1:%d); booting under emulation" % (self.qemu.pid, self.port))

    def alive(self):
        return self.qemu is not None and self.qemu.poll() is None

    def serial_tail(self, n=40):
        """The console's last n lines, terminal escapes and status-line redraws removed."""
        try:
            text = self.serial.read_text(errors="replace")
        except OSError:
            return ""
        lines = []
        for line in text.replace("\r\n", "\n").split("\n"):
            # systemd's status line ends "...\r\r" and starts with its redraw: keep the last text between the \r
            segs = [s for s in (ANSI.sub("", s).strip() for s in line.split("\r")) if s]
            if not segs:
                continue
            # a spinner redraw of the same job ("[**   ] Job x/start running (1min 2s / 15min)") replaces the last
            if lines and SPIN.sub("", segs[-1]) == SPIN.sub("", lines[-1]):
                lines[-1] = segs[-1]
            else:
                lines.append(segs[-1])
        return "\n".join(lines[-n:])

    def banner(self, timeout):
        """True when sshd answers with its banner (a cheap probe: qemu accepts the TCP connection
        whether or not the guest listens, and closes it when nothing does)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.settimeout(timeout)
                return s.recv(8).startswith(b"SSH-")
        except OSError:
            return False

    def boot_summary(self):
        """A line per boot: until SSH answered, and in all (until the next boot or the end), wall and vm-cpu."""
        end = {"t0": time.monotonic(), "cpu0": qemu_cpu() or 0}
        for i, (b, nxt) in enumerate(zip(self.boots, self.boots[1:] + [end])):
            up = "SSH after %.0fs wall / %.0fs vm-cpu" % (b["up"], b["cpu_up"]) if "up" in b else "SSH never answered"
            say("boot %d: %s; the whole boot with its tests %.0fs wall / %.0fs vm-cpu"
                % (i + 1, up, nxt["t0"] - b["t0"], nxt["cpu0"] - b["cpu0"]))

    def stop(self):
        if self.qemu is None:
            return
        if self.alive() and self.booted:   # a guest whose sshd never answered is not asked to power off
            self.ssh("systemctl poweroff", check=False, timeout=20)
            try:
                self.qemu.wait(timeout=60)
            except subprocess.TimeoutExpired:
                say("the guest did not power off within 60 s; stopping qemu")
        if self.alive():
            os.killpg(self.qemu.pid, signal.SIGTERM)
            try:
                self.qemu.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.qemu.pid, signal.SIGKILL)
                self.qemu.wait()
        self.qemu = None
        self.close_masters()

    # ------------------------------------------------------------------ ssh
    def ssh_argv(self, master=False):
        argv = ["ssh", "-i", str(self.key), "-p", str(self.port), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=90", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=8"]
        if not master:
            argv += ["-o", "ControlMaster=no", "-o", "ControlPath=none"]
        return argv

    def ssh(self, cmd, check=True, timeout=120):
        """Run a shell command on the node as root; returns the CompletedProcess (text)."""
        try:
            p = subprocess.run(self.ssh_argv() + ["root@127.0.0.1", cmd], capture_output=True, text=True,
                               timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired as e:
            if check:
                raise AssertionError("ssh %r timed out after %ss" % (cmd, timeout)) from e
            return subprocess.CompletedProcess(cmd, 255, "", "timeout")
        if check and p.returncode != 0:
            raise AssertionError("ssh %r failed (%d): %s%s" % (cmd, p.returncode, p.stdout, p.stderr))
        return p

    def json(self, cmd):
        return json.loads(self.ssh(cmd).stdout or "null")

    def reachable(self):
        return self.ssh("true", check=False, timeout=120).returncode == 0

    def wait_ssh(self, timeout=BOOT_TIMEOUT):
        t0 = time.monotonic()
        shown = [t0]

        def up():
            if not self.alive():
                raise AssertionError("qemu exited (%s); serial console:\n%s" % (self.qemu.returncode, self.serial_tail()))
            if "Kernel panic" in self.serial_tail(400):
                raise AssertionError("the guest's kernel panicked")
            if time.monotonic() - shown[0] > 30:
                shown[0] = time.monotonic()
                say("  still booting (%.0fs), console: %s" % (shown[0] - t0, self.serial_tail(1)[:110] or "(quiet)"))
            return self.banner(20) and self.reachable()
        boot = self.boots[-1]
        try:
            poll("SSH on the node", up, timeout, interval=2)
        except AssertionError as e:
            raise AssertionError("boot %d did not come up: %s (NODENET_SYSTEM_BOOT_TIMEOUT=%d)\nserial console (last lines):\n%s"
                                 % (len(self.boots), e, timeout, self.serial_tail())) from None
        self.booted = True
        boot.update(up=time.monotonic() - boot["t0"], cpu_up=(qemu_cpu() or 0) - boot["cpu0"])
        say("boot %d: SSH up %.0fs after its start, vm-cpu %.0fs" % (len(self.boots), boot["up"], boot["cpu_up"]))
        return time.monotonic() - t0

    def boot_id(self):
        return self.ssh("cat /proc/sys/kernel/random/boot_id").stdout.strip()

    def reboot(self):
        """A real reboot on the same disk; returns the seconds until SSH answered again."""
        old = self.boot_id()
        t0 = time.monotonic()
        self.boots.append({"t0": t0, "cpu0": qemu_cpu() or 0})
        self.ssh("systemctl reboot", check=False, timeout=20)
        self.close_masters()
        poll("the node to go down for the reboot", lambda: not self.reachable() or self._boot_changed(old), 180, interval=1)
        self.wait_ssh()
        poll("a new boot id", lambda: self._boot_changed(old), 60)
        return time.monotonic() - t0

    def _boot_changed(self, old):
        p = self.ssh("cat /proc/sys/kernel/random/boot_id", check=False, timeout=60)
        return p.returncode == 0 and p.stdout.strip() != old

    def close_masters(self):
        """End Ansible's SSH control masters (a master on a cut connection would hang the next task)."""
        for sock in self.cp_dir.glob("*"):
            subprocess.run(["ssh", "-o", "ControlPath=%s" % sock, "-O", "exit", "root@127.0.0.1"],
                           capture_output=True, timeout=20, check=False)
            if sock.exists():
                sock.unlink()

    # ------------------------------------------------------------------ ansible
    def _write_ansible_files(self):
        self.inventory = self.work / "inventory.yml"
        self.inventory.write_text(json.dumps({"all": {"hosts": {"node": {
            "ansible_host": "127.0.0.1", "ansible_port": self.port, "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.key),
            "ansible_python_interpreter": "/usr/bin/python3",
        }}}}))
        cfg = self.work / "ansible.cfg"
        cfg.write_text(
            "[defaults]\n"
            "host_key_checking = False\n"
            "callback_plugins = %s\n"
            "callbacks_enabled = nodenet_vm_result\n"
            "timeout = 120\n"
            "[ssh_connection]\n"
            "pipelining = True\n"
            "control_path_dir = %s\n"
            "ssh_args = -o ControlMaster=auto -o ControlPersist=30s -o UserKnownHostsFile=/dev/null "
            "-o ServerAliveInterval=15 -o ServerAliveCountMax=8\n" % (REPO / "tests" / "vm" / "callback_plugins", self.cp_dir))
        self.env = dict(os.environ)
        for key in [k for k in self.env if k.startswith("ANSIBLE_") and k not in ("ANSIBLE_COLLECTIONS_PATH",)]:
            del self.env[key]
        self.env.update({"ANSIBLE_CONFIG": str(cfg), "ANSIBLE_HOME": str(self.work / "ansible-home"),
                         "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible-tmp"), "ANSIBLE_NOCOLOR": "1",
                         "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build" / "collections"),
                         "ANSIBLE_ROLES_PATH": str(REPO / "roles")})

    def play(self, tasks, name="play", extra_vars=None, check=False, diff=False, expect_rc=0):
        """Run a playbook of `tasks` (list of dicts) against the node; returns the JSON task records."""
        book = self.work / ("%s.yml" % name)
        book.write_text(json.dumps([{"name": name, "hosts": "node", "gather_facts": False, "tasks": tasks}]))
        results = self.work / ("%s.results.json" % name)
        if results.exists():
            results.unlink()
        argv = ["ansible-playbook", "-i", str(self.inventory), str(book)]
        if extra_vars:
            argv += ["-e", json.dumps(extra_vars)]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        env = dict(self.env, NODENET_VM_RESULT_FILE=str(results))
        p = self._run_showing_tasks(name, argv, env)
        with open(self.ansible_log, "a") as log:
            log.write("==== %s (rc %d)\n%s%s\n" % (" ".join(argv), p.returncode, p.stdout, p.stderr))
        records = json.loads(results.read_text()) if results.exists() else []
        if expect_rc is not None and p.returncode != expect_rc:
            raise AssertionError("ansible-playbook %s: rc %d (expected %d)\n%s%s"
                                 % (name, p.returncode, expect_rc, p.stdout[-6000:], p.stderr[-3000:]))
        return records

    @staticmethod
    def _run_showing_tasks(name, argv, env):
        """ansible-playbook with each task's start shown as progress (a task on the emulated node takes
        seconds to minutes); returns a CompletedProcess with its whole output."""
        t0 = time.monotonic()
        with tempfile.TemporaryFile("w+") as err:
            with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
                                  stdin=subprocess.DEVNULL) as proc:
                out = []
                timer = threading.Timer(ANSIBLE_TIMEOUT, proc.kill)
                timer.start()
                try:
                    for line in proc.stdout:
                        out.append(line)
                        if line.startswith("TASK ["):
                            say("    %s: %s" % (name, line.strip(" *\n")[6:-1]))
                finally:
                    timer.cancel()
                rc = proc.wait()
            err.seek(0)
            stderr = err.read()
        if rc < 0:
            stderr += "\nkilled after %ds (NODENET_SYSTEM_ANSIBLE_TIMEOUT)" % ANSIBLE_TIMEOUT
        say("    %s: done in %.0fs (rc %d)" % (name, time.monotonic() - t0, rc))
        return subprocess.CompletedProcess(argv, rc, "".join(out), stderr)


def _interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


@pytest.fixture(scope="session")
def node():
    if not IN_TIER:
        pytest.skip(SKIP_REASON)
    signal.signal(signal.SIGTERM, _interrupt)   # a timeout or kill still stops the VM and removes its files
    t0 = time.monotonic()
    say("image: scripts/system-image (built once per recipe, then cached)")
    out = subprocess.run([str(REPO / "scripts" / "system-image")], capture_output=False, stdout=subprocess.PIPE,
                         text=True, check=False)
    assert out.returncode == 0, "scripts/system-image failed (rc %d)" % out.returncode
    image_dir = Path(out.stdout.strip().splitlines()[-1])
    say("image ready in %.0fs: %s" % (time.monotonic() - t0, image_dir))
    work = Path(tempfile.mkdtemp(prefix="nodenet-system-"))
    n = Node(image_dir, work)
    try:
        n.start()
        n.wait_ssh()
        yield n
    finally:
        cpu = qemu_cpu() or 0
        if n.boots:
            n.boot_summary()
        n.stop()
        say("qemu stopped; the VM used %.0f CPU-seconds in all (the tier's cost without this machine's load), "
            "%.0f s of wall time" % (cpu, time.monotonic() - t0))
        if os.environ.get("NODENET_SYSTEM_KEEP") == "1":
            say("kept %s (NODENET_SYSTEM_KEEP=1)" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
            say("work directory removed")


@pytest.fixture(scope="session")
def wheels():
    """pyroute2 wheels downloaded on the controller (cached), for the air-gapped node."""
    cache = Path(os.environ.get("NODENET_SYSTEM_CACHE", REPO / ".build" / "system")) / "wheels"
    req = "pyroute2>=0.7.3,<0.10"
    if not list(cache.glob("pyroute2-*.whl")):
        cache.mkdir(parents=True, exist_ok=True)
        say("downloading the pyroute2 wheel from PyPI on the controller into %s" % cache)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--only-binary=:all:", "--python-version", "3.11", "-d", str(cache), req], check=True)
    return cache


def changed_tasks(records):
    return [r["task"] for r in records if r["status"] == "ok" and r["result"].get("changed")]


def result_of(records, task):
    for r in records:
        if r["task"] == task:
            return r
    raise AssertionError("no result for task %r in %s" % (task, [r["task"] for r in records]))
