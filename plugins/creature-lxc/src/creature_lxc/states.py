"""LXC machine states for `creature list`: the container's monitor process, as recorded at start.

Imports neither pydantic nor the driver module (see creature.registry.DriverRegistry.register).
"""

from __future__ import annotations

import json

from creature.sdk import ProcessRecord, State


def monitor(machine) -> ProcessRecord | None:
    """The lxc-start monitor's record (run.json), or None when the container was not started by creature."""
    try:
        return ProcessRecord.from_dict(json.loads((machine.dir / "run.json").read_text()).get("monitor"))
    except (OSError, ValueError):
        return None


def states(machines) -> dict[str, State]:
    """Running while the recorded monitor process (pid, start time, command line) still runs."""
    out = {}
    for m in machines:
        record = monitor(m)
        out[m.name] = State.RUNNING if record is not None and record.alive() else State.STOPPED
    return out
