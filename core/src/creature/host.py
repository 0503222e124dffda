"""Facts about the host kernel, the kernel-feature checks, and the `host check` report."""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path

from creature.drivers import Check
from creature.records import Record, field

_CONTROLLERS = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "pids", "blkio", "io"}


class HostFacts:
    """Lazily read facts of this host that driver probes share (each read once per process)."""

    @cached_property
    def kernel_release(self) -> str:
        return os.uname().release  # what platform.release() reads, without importing platform

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


class HostReport(Record):
    """What `creature host check` prints: kernel checks, plugin checks, each driver's probe, load failures."""

    sections: dict[str, list[Check]] = field(factory=dict)

    def add(self, section: str, name: str, ok: bool, reason: str) -> None:
        """Add one check under a section (plugins call this from creature_check_host)."""
        self.sections.setdefault(section, []).append(Check(name=name, ok=ok, reason=reason))
