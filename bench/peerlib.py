"""Helpers of bench/peers.py: a private LXD, commands timed in turn, process memory, creature's leftovers.

Nothing here is a benchmark (bench/run skips modules named *lib.py). Only the Python standard library and
creature's public runtime modules are used, so it runs without the test tools.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from creature.procs import ProcessRecord, which

MIB = 1024 * 1024


def machine_facts() -> dict:
    """Date, CPU model and AMX flags, kernel and core count: what a table of this run must say about the machine."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": model.group(1) if model else platform.machine(),
            "amx": sorted(set(re.findall(r"\bamx[a-z_]*", cpuinfo))), "kernel": platform.release(), "cores": os.cpu_count()}


def tool_version(argv: list[str], env: dict | None = None) -> str:
    """The first line a tool prints for its version, or why there is none."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return (proc.stdout or proc.stderr).strip().splitlines()[0] if (proc.stdout or proc.stderr).strip() else "unknown"


# ---- processes

def pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def namespace(pid: int | str, kind: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def session_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[3])


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in KiB; (0, 0) once it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    values = dict(re.findall(r"^(Rss|Pss):\s+(\d+) kB", text, re.M))
    return int(values.get("Rss", 0)), int(values.get("Pss", 0))


def memory_mib(pid_list: list[int]) -> tuple[float, float]:
    """Summed (RSS, PSS) of processes in MiB (RSS counts shared pages once per process, PSS shares them out)."""
    rss = pss = 0
    for pid in pid_list:
        r, p = memory_kib(pid)
        rss, pss = rss + r, pss + p
    return rss / 1024, pss / 1024


def _ancestors() -> set[int]:
    found, pid = set(), os.getpid()
    while pid > 1:
        found.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat[stat.rindex(")") + 2 :].split()[1])
    return found


def creature_processes(home: Path, session: int | None = None) -> list[ProcessRecord]:
    """Python processes (creature's code) still running for home: in the session of a finished command, or naming home.

    Machine processes (lxc monitors, QEMU, guests) are not creature's: they run other programs than the interpreter.
    """
    python = os.path.realpath(sys.executable)
    mine = _ancestors()
    found = []
    for pid in pids():
        if pid in mine:
            continue
        try:
            if os.path.realpath(f"/proc/{pid}/exe") != python:
                continue
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if (session is not None and session_of(pid) == session) or str(home).encode() in cmdline \
                or f"CREATURE_HOME={home}".encode() in environ.split(b"\0"):
            record = ProcessRecord.of(pid)
            if record is not None:
                found.append(record)
    return found


def kill_records(records: list[ProcessRecord], sig: int = signal.SIGKILL, wait: float = 10) -> None:
    """Signal each process that is still the one recorded, then wait (up to wait s) until they are gone."""
    for record in records:
        if record.alive():
            os.kill(record.pid, sig)
    deadline = time.monotonic() + wait
    while any(r.alive() for r in records) and time.monotonic() < deadline:
        time.sleep(0.02)


# ---- timing

class Timings:
    """Commands timed one tool after the other, each in a session of its own, output discarded; medians per (operation, tool).

    Every command of the tool "creature" is followed (outside the timing) by a look for creature processes it left.
    """

    def __init__(self, home_of_creature: list[Path]):
        self.samples: dict[tuple[str, str], list[float]] = {}
        self.homes = home_of_creature
        self.creature_commands = 0
        self.leftovers: list[str] = []

    def run(self, argv: list[str], env: dict | None = None, tool: str = "") -> float:
        """Run one command to its end; its wall time. A failure stops the benchmark with the command's stderr."""
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
        _, err = proc.communicate(timeout=300)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed (exit {proc.returncode}): {err.decode(errors='replace').strip()}")
        if tool == "creature":
            self.creature_commands += 1
            for home in self.homes:
                self.leftovers += [f"{r.pid} {r.cmdline}" for r in creature_processes(home, session=proc.pid)]
        return elapsed

    def time(self, operation: str, tool: str, argvs: list[list[str]], env: dict | None = None, keep: bool = True) -> float:
        """Wall time of argvs run one after the other (create + start is two commands for some tools)."""
        total = sum(self.run(argv, env, tool) for argv in argvs)
        if keep:
            self.samples.setdefault((operation, tool), []).append(total)
        return total

    def median(self, operation: str, tool: str) -> float | None:
        found = self.samples.get((operation, tool))
        return statistics.median(found) if found else None

    def count(self, operation: str, tool: str) -> int:
        return len(self.samples.get((operation, tool), []))


# ---- LXD

METADATA = """\
architecture: {arch}
creation_date: {date}
properties:
  description: creature busybox template {name} (bench/peers.py)
  os: busybox
  release: creature
"""

PRESEED = """\
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  config:
    security.privileged: "true"
    limits.memory: {memory}MiB
    limits.cpu.allowance: {cpus}00ms/100ms
  devices:
    root:
      path: /
      pool: default
      type: disk
"""


class PrivateLxd:
    """An LXD daemon started by us: its own LXD_DIR and client config under root, in a mount namespace of its own.

    Its storage is a `dir` pool in LXD_DIR; it has no network (no bridge, containers get no NIC) and listens
    only on its unix socket. Its mounts (shmounts, devlxd) live and die with its mount namespace. Stopped by pid.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.dir = self.root / "lxd"
        self.record: ProcessRecord | None = None
        self.proc: subprocess.Popen | None = None
        self.mount_ns: str | None = None
        self.env = dict(os.environ, LXD_DIR=str(self.dir), LXD_CONF=str(self.root / "client"))

    def lxc(self, *args: str) -> list[str]:
        return [which("lxc"), *args]

    def call(self, *args: str, stdin: str | None = None) -> str:
        """Run an `lxc` client command (or `lxd` with args starting "lxd"); its stdout, or SystemExit with its stderr."""
        argv = [which("lxd"), *args[1:]] if args[0] == "lxd" else self.lxc(*args)
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=self.env, timeout=300)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed (exit {proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def start(self, memory_mib: int, cpus: int, timeout: float = 120) -> None:
        """Start lxd, wait until it answers, then configure the dir pool and the default profile (creature's limits)."""
        for folder in (self.dir, self.root / "client"):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        log = open(self.root / "lxd.log", "ab")
        # unshare execs lxd (no --fork): the pid started is the daemon's
        self.proc = subprocess.Popen([which("unshare"), "--mount", "--propagation", "private", "--", which("lxd"),
                                      "--logfile", str(self.root / "lxd.log")],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env, start_new_session=True)
        log.close()
        waited = subprocess.run([which("lxd"), "waitready", "--timeout", str(int(timeout))], env=self.env,
                                capture_output=True, text=True)
        if waited.returncode != 0 or self.proc.poll() is not None:
            self.proc.kill()
            self.proc.wait()
            tail = (self.root / "lxd.log").read_text(errors="replace")[-1500:]
            raise SystemExit(f"the private lxd did not come up: {waited.stderr.strip()} {tail}")
        self.record = ProcessRecord.of(self.proc.pid)  # taken after the exec: the record holds lxd's command line
        self.mount_ns = namespace(self.proc.pid, "mnt")
        self.call("lxd", "init", "--preseed", stdin=PRESEED.format(memory=memory_mib, cpus=cpus))

    def import_image(self, rootfs: Path, alias: str, work: Path) -> None:
        """Import rootfs (a folder) as image alias from local tarballs: a split image, metadata.yaml in its own tarball."""
        work.mkdir(mode=0o700, exist_ok=True)
        (work / "metadata.yaml").write_text(METADATA.format(arch=platform.machine(), date=int(time.time()), name=alias))
        with tarfile.open(work / "meta.tar.gz", "w:gz") as tar:
            tar.add(work / "metadata.yaml", arcname="metadata.yaml")
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-czf", str(work / "rootfs.tar.gz"), "."], check=True)
        self.call("image", "import", str(work / "meta.tar.gz"), str(work / "rootfs.tar.gz"), "--alias", alias)

    def processes(self) -> list[int]:
        """LXD's own processes: the daemon and its per-container helpers, in its mount namespace and outside containers."""
        host_pid_ns = namespace("self", "pid")
        return [pid for pid in pids() if self.mount_ns and namespace(pid, "mnt") == self.mount_ns
                and namespace(pid, "pid") == host_pid_ns]

    def instances(self) -> list[str]:
        return [line.split(",")[0] for line in self.call("list", "--format", "csv", "-c", "n").splitlines() if line]

    def stop(self) -> list[str]:
        """Delete every instance and image, stop lxd by pid, kill what is left in its mount namespace, remove root.

        Returns what could not be cleaned (empty when all went).
        """
        problems = []
        if self.record is not None and self.record.alive():
            try:
                names = self.instances()
                if names:
                    self.call("delete", "--force", *names)
                for fingerprint in self.call("image", "list", "--format", "csv", "-c", "f").split():
                    self.call("image", "delete", fingerprint)
            except SystemExit as exc:
                problems.append(f"LXD cleanup: {exc}")
        helpers = [r for r in map(ProcessRecord.of, self.processes()) if r is not None and r != self.record]
        if self.record is not None:
            kill_records([self.record], signal.SIGTERM, wait=30)
            kill_records([self.record])
            self.proc.wait(timeout=30)
        kill_records(helpers)
        left = [pid for pid in self.processes()]
        if left:
            problems.append(f"LXD processes left: {left}")
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                  if line.split()[4].startswith(str(self.root))]
        if mounts:
            problems.append(f"mounts left under {self.root}: {mounts}")
        shutil.rmtree(self.root, ignore_errors=True)
        return problems


# ---- raw QEMU, the same machine as a libvirt domain

def qemu_argv_of_domain(domain_xml: Path, disk: Path, console: Path, pidfile: Path) -> list[str]:
    """The qemu-system-x86_64 command line of a creature libvirt-qemu domain (q35, TCG, direct kernel boot, one virtio
    disk, serial console to a file), started by hand with -daemonize; disk is its own overlay."""
    root = ET.parse(domain_xml).getroot()
    memory = int(root.findtext("memory"))  # creature writes unit="MiB"
    return [root.findtext("devices/emulator"), "-name", "raw", "-machine", "q35,accel=tcg", "-m", f"{memory}M",
            "-smp", root.findtext("vcpu"), "-nodefaults", "-no-user-config", "-display", "none",
            "-kernel", root.findtext("os/kernel"), "-initrd", root.findtext("os/initrd"), "-append", root.findtext("os/cmdline"),
            "-drive", f"file={disk},format=qcow2,if=none,id=vda,discard=unmap", "-device", "virtio-blk-pci,drive=vda",
            "-serial", f"file:{console}", "-daemonize", "-pidfile", str(pidfile)]
