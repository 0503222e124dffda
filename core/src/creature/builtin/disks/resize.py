"""Growing a stopped machine's disk: checked here (size, state, never smaller), done by its driver's resize_disk()."""

from __future__ import annotations

from typing import TYPE_CHECKING

from creature.drivers import require
from creature.errors import CreatureError, InputError
from creature.records import MachineInfo
from creature.state import ADDRESSED

if TYPE_CHECKING:
    from creature.api import Creature


def resize_disk(api: Creature, name: str, size: int | str) -> MachineInfo:
    """Grow machine name's disk to size (MiB, or text like 2G); a smaller size or a running machine is refused."""
    from creature.builtin.support.disks import check_growth
    from creature.model import parse_disk

    try:
        size = parse_disk(size)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    machine = api.machine(name)
    driver = api.usable_driver(machine.driver)
    require(driver, "disk_limit", "disk limits (resize --disk)")
    with api.home.lock("machine", name):
        machine = api.machine(name)
        if driver.state(machine) in ADDRESSED:
            raise CreatureError(f"machine {name!r} is running: stop it before resizing its disk")
        if machine.spec.disk is not None:
            check_growth(machine.spec.disk, size)
        if size != machine.spec.disk:
            driver.resize_disk(machine, size)  # it may change machine.data (a UML disk's new image), stored below
            machine.spec = machine.spec.replace(disk=size)
            api.inventory.update_machine(machine)
            api.inventory.add_event(name, "resized", f"disk {size} MiB")
    return api.info(name)
