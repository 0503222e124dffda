"""QEMU machine states for `creature list`: the QEMU process recorded at start, then QMP query-status.

Imports neither pydantic nor the driver module (see creature.registry.DriverRegistry.register).
"""

from __future__ import annotations

import json
import os

from creature.sdk import ProcessRecord, State

from creature_qemu.paths import Paths

QMP_STATES = {
    "running": State.RUNNING,
    "paused": State.PAUSED, "suspended": State.PAUSED, "prelaunch": State.PAUSED, "inmigrate": State.PAUSED,
    "postmigrate": State.PAUSED, "finish-migrate": State.PAUSED, "save-vm": State.PAUSED, "restore-vm": State.PAUSED,
    "debug": State.PAUSED, "colo": State.PAUSED, "watchdog": State.PAUSED,
    "internal-error": State.CRASHED, "io-error": State.CRASHED, "guest-panicked": State.CRASHED,
    "shutdown": State.STOPPED,
}


def record(machine) -> ProcessRecord | None:
    """The QEMU process's record (run.json), or None when it was not started or was stopped by creature."""
    try:
        return ProcessRecord.from_dict(json.loads(Paths(machine.dir).record.read_text()).get("qemu"))
    except (OSError, ValueError):
        return None


def panicked(machine) -> bool:
    """Did the guest kernel panic? (pvpanic made QEMU exit; the console log's tail says why.)"""
    try:
        with open(Paths(machine.dir).console_log, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 16384))
            return b"Kernel panic - not syncing" in log.read()
    except OSError:
        return False


def state(machine) -> State:
    """Stopped without a live recorded process (crashed if the guest panicked), else what QMP says."""
    rec = record(machine)
    if rec is None:
        return State.STOPPED
    if not rec.alive():
        # run.json outlives only a QEMU that ended without stop or kill: a crash, or an outside kill
        return State.CRASHED if panicked(machine) else State.STOPPED
    from creature_qemu import qmp  # a socket client, needed only for a live QEMU

    try:
        status = qmp.execute(Paths(machine.dir).qmp, "query-status", timeout=2)
    except qmp.QmpError:
        return State.RUNNING  # the process lives; its monitor is busy with another client
    return QMP_STATES.get(status.get("status", ""), State.UNKNOWN) if isinstance(status, dict) else State.UNKNOWN


def states(machines) -> dict[str, State]:
    """state() of each machine."""
    return {m.name: state(m) for m in machines}
