"""Sampling usage: each driver's stats() for all its running machines at once; CPU percent from two samples.

A sample asks each driver once for all of its machines (Driver.stats, capability stats), so reading fifty
machines is one pass over their cgroups, /proc and interface counters, not a process per machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from creature.drivers import require
from creature.errors import CreatureError
from creature.state import ADDRESSED

if TYPE_CHECKING:
    from creature.api import Creature
    from creature.builtin.support.usage import MachineStats
    from creature.records import Machine


@dataclass
class Sample:
    """What every driver reported at one moment (time.monotonic()): {machine name: (driver name, MachineStats)}."""

    at: float
    machines: dict[str, tuple[str, MachineStats]] = field(default_factory=dict)


def running(api: Creature, names: list[str] | None = None) -> dict[str, list[Machine]]:
    """The running machines to sample, by driver: names (each must run, on a driver with stats), else every one that can."""
    machines = [api.machine(n) for n in dict.fromkeys(names)] if names else api.inventory.machines()
    groups: dict[str, list[Machine]] = {}
    for machine in machines:
        if machine.driver not in api.registry or not api.driver(machine.driver).capabilities.stats:
            if names:
                require(api.driver(machine.driver), "stats", "usage statistics (stats)")
            continue
        groups.setdefault(machine.driver, []).append(machine)
    for driver_name, group in list(groups.items()):
        states = api.driver(driver_name).states(group)
        groups[driver_name] = [m for m in group if states.get(m.name) in ADDRESSED]
        if names:
            stopped = [m.name for m in group if states.get(m.name) not in ADDRESSED]
            if stopped:
                raise CreatureError(f"machine {stopped[0]!r} is not running")
    return {d: g for d, g in groups.items() if g}


def sample(api: Creature, groups: dict[str, list[Machine]]) -> Sample:
    """One reading of every machine in groups, one stats() call per driver."""
    taken = Sample(at=time.monotonic())
    for driver_name, group in groups.items():
        for name, stats in api.driver(driver_name).stats(group).items():
            taken.machines[name] = (driver_name, stats)
    return taken


def rows(now: Sample, before: Sample | None) -> list[dict]:
    """One dict per machine: its MachineStats, name, driver and, given an earlier sample, CPU percent since then.

    100 percent is one CPU busy for the whole interval (as top counts it): a machine with two busy CPUs shows 200.
    """
    out = []
    for name in sorted(now.machines):
        driver, stats = now.machines[name]
        percent = None
        if before is not None and name in before.machines and now.at > before.at:
            used = stats.cpu_seconds - before.machines[name][1].cpu_seconds
            percent = round(max(0.0, used) / (now.at - before.at) * 100, 1)
        out.append({"name": name, "driver": driver, "cpu_percent": percent, **stats.to_dict()})
    return out


def collect(api: Creature, names: list[str] | None = None, interval: float = 1.0) -> list[dict]:
    """Usage of the running machines (or of names): two samples interval seconds apart; interval 0 gives no percent."""
    groups = running(api, names)
    first = sample(api, groups)
    if interval <= 0:
        return rows(first, None)
    time.sleep(interval)
    return rows(sample(api, groups), first)
