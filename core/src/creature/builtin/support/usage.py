"""Usage of running machines as the host sees it: the records Driver.stats() returns and the readers drivers share.

Everything here reads files (/proc, cgroup files, interface counters in /proc/PID/net/dev) and runs nothing, so
`creature stats` over many machines is one pass over what the kernel already counts; standard library only.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from creature.records import Record, field

MIB = 1024 * 1024
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_NO_LIMIT = 1 << 60  # cgroup v1 writes "no limit" as a page-rounded 2**63-1


class NicStats(Record):
    """Bytes through one NIC, counted as the guest sees them (a tap's or veth's host end counts the other way round)."""

    name: str  # the device the counters were read from (a tap, a veth, or the guest's own eth0)
    mac: str | None
    rx_bytes: int
    tx_bytes: int


class MachineStats(Record):
    """One machine's usage now: CPU time so far, memory, disk (bytes) and NICs; None where the host cannot tell."""

    cpu_seconds: float
    memory_used: int | None = None
    memory_limit: int | None = None
    disk_used: int | None = None
    disk_limit: int | None = None
    nics: list[NicStats] = field(factory=list)


def read(path: str | Path) -> str | None:
    """A small file's text, or None when it is gone (a process or cgroup that ended meanwhile)."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    text = read(f"/proc/{pid}/stat")
    # comm may hold spaces and parentheses: the fields follow the last ')'; fields[0] is the state (field 3)
    return text[text.rindex(")") + 2:].split() if text else None


def process_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds a process used (user + system), with those of its children it has waited for when asked."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / _TICKS


def process_rss(pid: int) -> int | None:
    """Resident bytes of a process (its share of guest memory the host really holds)."""
    text = read(f"/proc/{pid}/statm")
    return int(text.split()[1]) * _PAGE if text else None


def process_groups() -> dict[int, list[tuple[int, float, int]]]:
    """Every live process by process group: (pid, CPU seconds, start time); one pass over /proc."""
    groups: dict[int, list[tuple[int, float, int]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and fields[0] != "Z":
                cpu = (int(fields[11]) + int(fields[12])) / _TICKS
                groups.setdefault(int(fields[2]), []).append((int(entry), cpu, int(fields[19])))
    return groups


def children(pid: int) -> list[int]:
    """The pids of a process's children (the kernel's list, for the main thread)."""
    text = read(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in text.split()] if text else []


def net_dev(pid: int) -> dict[str, tuple[int, int]]:
    """{interface: (rx bytes, tx bytes)} in the network namespace of pid, as that namespace's kernel counts them."""
    found = {}
    for line in (read(f"/proc/{pid}/net/dev") or "").splitlines()[2:]:
        name, _, counters = line.partition(":")
        values = counters.split()
        if len(values) >= 9:
            found[name.strip()] = (int(values[0]), int(values[8]))
    return found


def host_side(nics, names: list[str], counters: dict[str, tuple[int, int]]) -> list[NicStats]:
    """NicStats of a machine's NICs from the host ends (taps) named names: what the tap receives, the guest sent."""
    return [NicStats(name=dev, mac=nic.mac, rx_bytes=counters[dev][1], tx_bytes=counters[dev][0])
            for nic, dev in zip(nics, names, strict=False) if dev in counters]


def guest_side(nics, counters: dict[str, tuple[int, int]]) -> list[NicStats]:
    """NicStats of a container's NICs (eth0, eth1, ... in its own namespace): counted as the guest sees them."""
    return [NicStats(name=f"eth{i}", mac=nic.mac, rx_bytes=counters[f"eth{i}"][0], tx_bytes=counters[f"eth{i}"][1])
            for i, nic in enumerate(nics) if f"eth{i}" in counters]


@cache
def _hierarchies() -> dict[str, Path]:
    """Mount point of each cgroup v1 controller, and "" for the cgroup2 mount (one read of the mount table)."""
    found: dict[str, Path] = {}
    for line in (read("/proc/self/mountinfo") or "").splitlines():
        left, _, right = line.partition(" - ")
        kind, options = right.split()[0], right.split()[-1] if right.split() else ""
        point = Path(left.split()[4])
        if kind == "cgroup2":
            found.setdefault("", point)
        elif kind == "cgroup":
            for option in options.split(","):
                found.setdefault(option, point)
    return found


def _cgroup_dirs(pid: int) -> dict[str, Path]:
    """Where pid's cgroups are: controller -> folder (cgroup v1), and "" -> its cgroup2 folder."""
    dirs = {}
    mounts = _hierarchies()
    for line in (read(f"/proc/{pid}/cgroup") or "").splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            if controller in mounts:
                dirs[controller] = mounts[controller] / path.lstrip("/")
    return dirs


def _stat_value(text: str | None, key: str) -> int:
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def cgroup_usage(pid: int) -> tuple[float, int | None, int | None] | None:
    """(CPU seconds, memory used, memory limit) of the cgroups pid is in, v1 controllers first, else cgroup2.

    Memory used leaves out the inactive page cache (what docker and LXD show): the kernel drops that before it
    would refuse the group memory. None when pid is gone.
    """
    dirs = _cgroup_dirs(pid)
    if not dirs:
        return None
    if "cpuacct" in dirs:
        cpu = (_number(read(dirs["cpuacct"] / "cpuacct.usage")) or 0) / 1e9
    else:
        cpu = _stat_value(read(dirs.get("", Path("/nonexistent")) / "cpu.stat"), "usage_usec") / 1e6
    if "memory" in dirs:
        folder = dirs["memory"]
        usage, limit = _number(read(folder / "memory.usage_in_bytes")), _number(read(folder / "memory.limit_in_bytes"))
        inactive = _stat_value(read(folder / "memory.stat"), "total_inactive_file")
    else:
        folder = dirs.get("", Path("/nonexistent"))
        usage, limit = _number(read(folder / "memory.current")), _number(read(folder / "memory.max"))
        inactive = _stat_value(read(folder / "memory.stat"), "inactive_file")
    used = None if usage is None else max(0, usage - inactive)
    return cpu, used, limit if limit is not None and limit < _NO_LIMIT else None


def fs_usage(path: str | Path) -> tuple[int, int] | None:
    """(bytes used, bytes in all) of the filesystem at path (an overlay reports its upper layer's), or None."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_blocks * st.f_frsize


def allocated(path: str | Path) -> int | None:
    """Bytes a (sparse) file really takes on the host's disk."""
    try:
        return os.stat(path).st_blocks * 512
    except OSError:
        return None
