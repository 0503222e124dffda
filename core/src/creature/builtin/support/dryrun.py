"""Dry runs: what `create --dry-run` would write and what `start|stop|kill --dry-run` would run, exactly.

A plan is computed the way the real operation works (the driver's own create(), into a throwaway folder;
its plan() for commands), so what it shows is what runs; the home is never touched.
"""

from __future__ import annotations

import shutil
import tempfile
from contextvars import ContextVar
from pathlib import Path

from creature.errors import CreatureError, InputError
from creature.records import Machine, MachineSpec

# Set by a dry run to a throwaway folder: disk_image() then builds a missing image there, not in the template.
DRY_RUN_SCRATCH: ContextVar[Path | None] = ContextVar("DRY_RUN_SCRATCH", default=None)


def plan_create(api, spec: MachineSpec | dict, access=None, cloud_init=None) -> dict:
    """The files create would write (path, mode, size, text) and the commands each action would run."""
    from creature.builtin.guest.inputs import GuestInputs

    spec, driver = api.prepare(spec)
    inputs = GuestInputs.check(driver, access, cloud_init)
    if api.inventory.machine(spec.name) is not None:
        raise InputError(f"machine {spec.name!r} already exists")
    template = api.templates.get(spec.template)
    driver.dry_run = True
    spec = api.assign_nics(spec, driver)  # checks the NICs; reads only
    machine = Machine(spec=spec, dir=api.home.root / "machines" / spec.name)
    staging = Path(tempfile.mkdtemp(prefix="creature-plan."))
    scratch = Path(tempfile.mkdtemp(prefix="creature-plan-scratch."))
    token = DRY_RUN_SCRATCH.set(scratch)
    try:
        with inputs.given(api.home, machine, driver, dry_run=True) as data:
            machine.data = {**(driver.create(machine, template, staging) or {}), **data}
        files = []
        for path in sorted(p for p in staging.rglob("*") if p.is_file() and not p.is_symlink()):
            raw = path.read_bytes()
            text = raw.decode() if len(raw) <= 65536 and b"\0" not in raw else None
            files.append({"path": str(machine.dir / path.relative_to(staging)), "mode": oct(path.stat().st_mode & 0o777),
                          "size": len(raw), "content": text})
    finally:
        DRY_RUN_SCRATCH.reset(token)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    commands = {}
    for action in ("start", "stop", "kill", "destroy"):
        try:
            commands[action] = driver.plan(machine, action)
        except NotImplementedError:
            commands[action] = None
    probe = api.probe(driver.name)
    return {"machine": spec.name, "driver": driver.name, "usable": probe.usable, "reason": probe.reason,
            "files": files, "commands": commands}


def plan(api, name: str, action: str) -> list[list[str]]:
    """The commands `action` would run on machine name."""
    machine = api.machine(name)
    driver = api.driver(machine.driver)
    try:
        return driver.plan(machine, action)
    except NotImplementedError:
        raise CreatureError(f"driver {driver.name!r} cannot show its commands (no --dry-run support)") from None
