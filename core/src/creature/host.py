"""Facts about the host kernel, the kernel-feature checks, and the `host check` report."""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from creature.drivers import Check
from creature.procs import run, which


class HostFacts:
    """Lazily read facts of this host that driver probes share (each read once per process)."""

    @cached_property
    def kernel_release(self) -> str:
        return platform.release()

    @cached_property
    def kernel_version(self) -> tuple[int, int]:
        match = re.match(r"(\d+)\.(\d+)", self.kernel_release)
        return (int(match.group(1)), int(match.group(2))) if match else (0, 0)

    @cached_property
    def cpu_flags(self) -> set[str]:
        try:
            text = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
        match = re.search(r"^flags\s*:\s*(.*)$", text, re.MULTILINE)
        return set(match.group(1).split()) if match else set()

    @cached_property
    def filesystems(self) -> set[str]:
        try:
            return {line.split()[-1] for line in Path("/proc/filesystems").read_text().splitlines() if line.strip()}
        except OSError:
            return set()

    @cached_property
    def cgroup_v1_controllers(self) -> set[str]:
        found = set()
        try:
            for line in Path("/proc/self/mounts").read_text().splitlines():
                parts = line.split()
                if len(parts) > 3 and parts[2] == "cgroup":
                    found.update(o for o in parts[3].split(",") if o in _CONTROLLERS)
        except OSError:
            pass
        return found

    @cached_property
    def cgroup_v2_controllers(self) -> set[str]:
        for candidate in ("/sys/fs/cgroup/cgroup.controllers", "/sys/fs/cgroup/unified/cgroup.controllers"):
            try:
                return set(Path(candidate).read_text().split())
            except OSError:
                continue
        return set()

    @property
    def is_root(self) -> bool:
        return os.geteuid() == 0

    @cached_property
    def link_types(self) -> dict[str, str]:
        """Which link types the kernel creates, tried for real in a throwaway network namespace."""
        results = {}
        unshare, ip = which("unshare"), which("ip")
        if not (unshare and ip and self.is_root):
            reason = "needs root, unshare and ip (iproute2) to try"
            return {"veth": reason, "bridge": reason}
        for kind, cmd in (("veth", "link add cv0 type veth peer name cv1"), ("bridge", "link add cb0 type bridge")):
            proc = run([unshare, "--net", "--", ip, "-batch", "-"], input=cmd + "\n", check=False, timeout=10)
            results[kind] = "" if proc.returncode == 0 else (proc.stderr.strip() or f"ip exited {proc.returncode}")
        return results


_CONTROLLERS = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "pids", "blkio", "io"}


def kernel_checks(host: HostFacts) -> list[Check]:
    """The kernel features hypervisors here rely on: namespaces, cgroups, veth, bridge, tun, overlayfs."""
    checks = []
    missing = [ns for ns in ("mnt", "uts", "ipc", "pid", "net", "user", "cgroup") if not Path(f"/proc/self/ns/{ns}").exists()]
    checks.append(Check(name="namespaces", ok=not missing,
                        reason=f"missing namespaces: {', '.join(missing)}" if missing else "mnt, uts, ipc, pid, net, user, cgroup namespaces present"))
    v1, v2 = host.cgroup_v1_controllers, host.cgroup_v2_controllers
    memory = "memory" in v1 or "memory" in v2
    layout = "hybrid" if v1 and Path("/sys/fs/cgroup/unified").is_dir() else ("v1" if v1 else "v2")
    checks.append(Check(name="cgroups", ok=memory,
                        reason=f"cgroup {layout}: v1 controllers {','.join(sorted(v1)) or 'none'}; v2 controllers {','.join(sorted(v2)) or 'none'}"
                        + ("" if memory else "; no memory controller (memory limits cannot be applied)")))
    for kind, error in host.link_types.items():
        checks.append(Check(name=kind, ok=not error, reason=f"{kind} link created in a scratch network namespace" if not error else f"cannot create a {kind} link: {error}"))
    tun = Path("/dev/net/tun")
    tun_ok, tun_reason = False, "/dev/net/tun is missing"
    if tun.exists():
        try:
            os.close(os.open(tun, os.O_RDWR))
            tun_ok, tun_reason = True, "/dev/net/tun opens"
        except OSError as exc:
            tun_reason = f"/dev/net/tun exists but cannot be opened: {exc.strerror}"
    checks.append(Check(name="tun", ok=tun_ok, reason=tun_reason))
    overlay = "overlay" in host.filesystems
    checks.append(Check(name="overlayfs", ok=overlay, reason="overlay filesystem available" if overlay else "no overlay filesystem in /proc/filesystems (clones fall back to copies)"))
    return checks


@dataclass
class HostReport:
    """What `creature host check` prints: kernel checks, plugin checks, each driver's probe, load failures."""

    sections: dict[str, list[Check]] = field(default_factory=dict)

    def add(self, section: str, name: str, ok: bool, reason: str) -> None:
        """Add one check under a section (plugins call this from creature_check_host)."""
        self.sections.setdefault(section, []).append(Check(name=name, ok=ok, reason=reason))
