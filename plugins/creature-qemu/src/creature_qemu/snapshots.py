"""QEMU snapshots inside the machine's qcow2: qemu-img for a stopped machine, the monitor's savevm/loadvm (disk and
memory) for a running one, and the disk flattened for export."""

from __future__ import annotations

import json
from pathlib import Path

from creature.sdk import CreatureError, Machine, run, which

from creature_qemu import qmp
from creature_qemu.paths import Paths

LOADVM = "loadvm"  # a file in the machine's folder: the next start loads this snapshot's memory (-loadvm)


def qemu_img() -> str:
    path = which("qemu-img")
    if path is None:
        raise CreatureError("qemu-img not found (install the Debian package qemu-utils)")
    return path


def allocated(path: Path) -> int:
    """Bytes the file takes on disk (an internal snapshot's size is what it adds to the image)."""
    try:
        return path.stat().st_blocks * 512
    except OSError:
        return 0


def hmp(machine: Machine, command: str, timeout: float = 600) -> str:
    """One human-monitor command through QMP; its text output is an error for savevm, loadvm and delvm."""
    reply = qmp.execute(Paths(machine.dir).qmp, "human-monitor-command", timeout=timeout, **{"command-line": command})
    return str(reply or "")


def save(machine: Machine, snap: str, running: bool) -> dict:
    """Disk (stopped) or disk and memory (running) into the qcow2, named snap."""
    disk = Paths(machine.dir).disk
    before = allocated(disk)
    if running:
        # savevm stops the guest while it writes its memory and resumes it: a consistent moment of disk and RAM
        out = hmp(machine, f"savevm {snap}")
        if out.strip():
            raise CreatureError(f"QEMU savevm {snap} failed: {out.strip()}")
    else:
        run([qemu_img(), "snapshot", "-c", snap, str(disk)], timeout=600)
    return {"memory": running, "size": max(0, allocated(disk) - before)}


def names(machine: Machine) -> list[str]:
    """The internal snapshots of the machine's disk (-U: readable while QEMU holds the image)."""
    disk = Paths(machine.dir).disk
    if not disk.exists():
        return []
    info = json.loads(run([qemu_img(), "info", "-U", "--output=json", str(disk)], timeout=60).stdout)
    return [s["name"] for s in info.get("snapshots", [])]


def load(machine: Machine, snap: str, running: bool) -> None:
    """Running: loadvm in place. Stopped: apply the disk snapshot (qemu-img snapshot -a)."""
    if running:
        out = hmp(machine, f"loadvm {snap}")
        if out.strip():
            raise CreatureError(f"QEMU loadvm {snap} failed: {out.strip()}")
    else:
        run([qemu_img(), "snapshot", "-a", snap, str(Paths(machine.dir).disk)], timeout=600)


def delete(machine: Machine, snap: str, running: bool) -> None:
    if snap not in names(machine):
        return
    if running:
        out = hmp(machine, f"delvm {snap}")
        if out.strip():
            raise CreatureError(f"QEMU delvm {snap} failed: {out.strip()}")
    else:
        run([qemu_img(), "snapshot", "-d", snap, str(Paths(machine.dir).disk)], timeout=600)


def flatten(disk: Path, scratch: Path) -> Path:
    """The disk with its backing image merged in, as one standalone compact qcow2 (no snapshots)."""
    flat = scratch / "disk.qcow2"
    run([qemu_img(), "convert", "-q", "-f", "qcow2", "-O", "qcow2", str(disk), str(flat)], timeout=3600)
    return flat
