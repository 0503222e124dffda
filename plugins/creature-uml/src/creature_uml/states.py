"""UML machine states for `creature list`: the linux.uml process recorded at start.

Imports neither pydantic nor the driver module (see creature.registry.DriverRegistry.register).
"""

from __future__ import annotations

import json

from creature.sdk import ProcessRecord, State


def run_info(machine) -> tuple[ProcessRecord | None, int | None]:
    """The UML process's record and its process group, from run.json (None, None when not started)."""
    try:
        data = json.loads((machine.dir / "run.json").read_text())
        return ProcessRecord.from_dict(data.get("uml")), int(data["pgid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def states(machines) -> dict[str, State]:
    """Running while the recorded UML process (pid, start time, command line) still runs."""
    out = {}
    for m in machines:
        record, _ = run_info(m)
        out[m.name] = State.RUNNING if record is not None and record.alive() else State.STOPPED
    return out


def run_kernel(machine) -> str | None:
    """The kernel the last start booted (path, release, origin), from run.json."""
    try:
        return json.loads((machine.dir / "run.json").read_text()).get("kernel")
    except (OSError, ValueError, AttributeError):
        return None


def details(machine, home_root) -> dict[str, str]:
    """The UML kernel: the one the running machine booted, else the one its next start would use (`creature show`)."""
    from creature.sdk import CreatureError, Home

    from creature_uml import kernels

    record, _ = run_info(machine)
    booted = run_kernel(machine)
    if booted and record is not None and record.alive():
        return {"kernel": booted}
    try:
        kernel, judged, _ = kernels.choose(Home(home_root))
    except CreatureError as exc:
        return {"kernel": f"none: {exc}"}
    if kernel is None or not judged.ok:
        return {"kernel": "none works here (see `creature host check`)"}
    return {"kernel": f"{kernel.path} (UML {judged.release}; {kernel.origin}); used at the next start"}
