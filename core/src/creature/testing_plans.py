"""Test helpers for a driver whose hypervisor is not on the test machine: its probe reasons, files and command plans.

Such a driver cannot run DriverConformance's lifecycle here, so its tests check what it would do instead:

    from creature.testing_plans import assert_plans, plan_machine, staged_create, unusable_reasons

    def test_plans(creature_api):
        driver = creature_api.driver("mything")
        assert_plans(driver, plan_machine(creature_api, "mything"), {"start": [[driver.tool("mytool"), "start", "web"]]})

The creature_api fixture comes from the creature.testing pytest plugin.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from creature.records import Machine, MachineSpec


def plan_machine(api, driver: str, memory: str = "256M", **extra) -> Machine:
    """Machine "web" of driver (template "bb", 2 CPUs) in api's home, not created: what create() and plan() are given."""
    spec = MachineSpec.parse({"name": "web", "driver": driver, "template": "bb", "cpus": 2, "memory": memory, **extra})
    return Machine(spec=spec, dir=api.home.machine_dir("web"))


def staged_create(api, machine: Machine, tmp_path: Path) -> tuple[dict, Path]:
    """The driver data and the staging folder of machine's create() from a busybox template "bb" (built once per home)."""
    template = api.templates.build("bb", "busybox")
    staging = tmp_path / "staging"
    staging.mkdir()
    return api.driver(machine.driver).create(machine, template, staging), staging


def unusable_reasons(api, driver: str, check: str, marker: Path) -> dict[str, str]:
    """The reasons of driver's failed probe checks, once check failed saying marker (its kernel interface) is missing.

    Skipped where marker exists: there the hypervisor may be usable and the reasons cannot be seen.
    """
    if marker.exists():
        pytest.skip(f"{marker} exists here: the reasons driver {driver} is unusable cannot be seen")
    probe = api.probe(driver)
    reasons = {c.name: c.reason for c in probe.checks if not c.ok}
    assert not probe.usable and f"{marker} is missing" in reasons.get(check, ""), probe.checks
    return reasons


def assert_plans(driver, machine: Machine, expected: dict[str, list[list[str]]]) -> None:
    """Each action's plan is exactly its expected argv lists (compared one action at a time, so a failure names it)."""
    for action, argvs in expected.items():
        assert driver.plan(machine, action) == argvs, f"the {driver.name} driver's {action!r} plan"


def assert_private(*paths: Path) -> None:
    """Each file is readable by its owner only (mode 0600, as creature.home.write_private writes it)."""
    for path in paths:
        assert oct(path.stat().st_mode & 0o777) == "0o600", f"{path} is not private"
