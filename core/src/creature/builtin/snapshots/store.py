"""Where a machine's snapshots live and how they are recorded: one folder each, put in place whole.

machines/NAME/snapshots/SNAP/ holds the snapshot's files and its record (snapshot.json, written before the folder
is renamed into place): a folder with a plain name is a complete snapshot, nothing else is listed. Work in progress
has a dotted name (.new.SNAP.PID, .rm.SNAP.PID, .swap.PID) that `creature doctor` reports once nobody holds the
machine's lock.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from creature.errors import NotFound
from creature.records import Machine

FOLDER = "snapshots"
RECORD = "snapshot.json"
WORK_PREFIXES = (".new.", ".rm.", ".swap.")


@dataclass(frozen=True)
class Snapshot:
    """One complete snapshot of a machine, as `snapshot list` shows it."""

    machine: str
    name: str
    created: float
    size: int
    memory: bool
    running: bool  # taken while the machine ran
    driver: str
    description: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Snapshot:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def root(machine: Machine) -> Path:
    return machine.dir / FOLDER


def folder(machine: Machine, snap: str) -> Path:
    return root(machine) / snap


def work_folder(machine: Machine, kind: str, snap: str = "") -> Path:
    """A dotted folder for work in progress (kind: new, rm, swap), made inside the snapshots folder."""
    base = root(machine)
    base.mkdir(mode=0o700, exist_ok=True)
    return base / (f".{kind}.{snap}.{os.getpid()}" if snap else f".{kind}.{os.getpid()}")


def snapshots(machine: Machine) -> list[Snapshot]:
    """The machine's complete snapshots, oldest first."""
    found = []
    base = root(machine)
    if not base.is_dir():
        return []
    for entry in base.iterdir():
        if entry.name.startswith("."):
            continue
        try:
            found.append(Snapshot.from_dict(json.loads((entry / RECORD).read_text())))
        except (OSError, ValueError, TypeError, KeyError):
            continue  # not a record of ours (doctor reports it)
    return sorted(found, key=lambda s: (s.created, s.name))


def get(machine: Machine, snap: str) -> Snapshot:
    for found in snapshots(machine):
        if found.name == snap:
            return found
    raise NotFound(f"machine {machine.name!r} has no snapshot named {snap!r} (see `creature snapshot list {machine.name}`)")


def record(machine: Machine, snap: str, *, size: int, memory: bool, running: bool, description: str) -> Snapshot:
    return Snapshot(machine=machine.name, name=snap, created=time.time(), size=size, memory=memory, running=running,
                    driver=machine.driver, description=description)


def leftovers(machine: Machine) -> list[Path]:
    """Folders of interrupted snapshot work, and snapshot folders without a readable record."""
    base = root(machine)
    if not base.is_dir():
        return []
    complete = {s.name for s in snapshots(machine)}
    return sorted(e for e in base.iterdir() if e.name.startswith(WORK_PREFIXES) or
                  (not e.name.startswith(".") and e.name not in complete))


def work_snap(path: Path) -> str:
    """The snapshot name inside a work folder's name (.new.SNAP.PID -> SNAP; '' for .swap.PID)."""
    parts = path.name.split(".")
    return parts[2] if len(parts) == 4 else ""
