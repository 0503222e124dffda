"""Moving a machine to another node of its cluster: live (Driver.migrate) or by a restart there (Driver.failover)."""

from __future__ import annotations

from collections.abc import Callable

from creature.drivers import Driver, require
from creature.errors import CreatureError, InputError
from creature.records import Machine, MachineInfo
from creature.state import State


def migrate(api, name: str, node: str | None = None) -> MachineInfo:
    """Move a running machine to node (None: where the cluster chooses) while it runs."""
    return _move(api, name, "migrate", "live migration", "migrated", lambda d, m: d.migrate(m, node))


def failover(api, name: str, node: str | None = None, timeout: float = 30) -> MachineInfo:
    """Stop a machine (graceful up to timeout) and start it again on node (None: where the cluster chooses)."""
    if timeout < 0:
        raise InputError(f"timeout must not be negative (got {timeout:g})")
    return _move(api, name, "failover", "failover", "failed-over", lambda d, m: d.failover(m, node, timeout))


def _move(api, name: str, capability: str, what: str, event: str, action: Callable[[Driver, Machine], None]) -> MachineInfo:
    machine = api.machine(name)
    driver = api.usable_driver(machine.driver)
    require(driver, capability, what)
    with api.home.lock("machine", name):
        machine = api.machine(name)  # it may have been destroyed while we waited
        if capability == "migrate" and driver.state(machine) != State.RUNNING:
            raise CreatureError(f"machine {name!r} is not running: only a running machine migrates live")
        action(driver, machine)
        api.inventory.add_event(machine.name, event, "")
        api.plugins.call("creature_machine_event", api=api, machine=machine, event=event)
    return api.info(name)
