"""What the Python API offers of creature's own features (networks, autostart, dry runs, snapshots, repairs).

Each is a thin call into the builtin module that does it, imported only when used; Creature inherits these.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from creature.records import Address, MachineInfo, MachineSpec


class Features:
    """creature's own features, reached through the API as well as through their commands."""

    @cached_property
    def networks(self):
        """The home's networks (creature.builtin.networks)."""
        from creature.builtin.networks.networks import Networks

        return Networks(self.home, self.inventory)

    def wait_ip(self, name: str, timeout: float = 60, ipv6: bool = False) -> list[Address]:
        """Wait until the machine runs and has an IPv4 address (any with ipv6); see creature.builtin.networks.waiting."""
        from creature.builtin.networks.waiting import wait_ip

        return wait_ip(self, name, timeout=timeout, ipv6=ipv6)

    def set_autostart(self, name: str, on: bool, order: int | None = None, delay: float | None = None) -> MachineInfo:
        """Mark a machine to start (or not) at `host up`, with its order and delay (creature.builtin.autostart)."""
        from creature.builtin.autostart.autostart import set_autostart

        return set_autostart(self, name, on, order, delay)

    def host_up(self, restore: bool = False, progress=None):
        """Start autostart machines by ascending order (see creature.builtin.autostart)."""
        from creature.builtin.autostart.autostart import host_up

        return host_up(self, restore=restore, progress=progress)

    def host_down(self, timeout: float = 60, progress=None):
        """Stop every running machine by descending order, forcing after timeout (see creature.builtin.autostart)."""
        from creature.builtin.autostart.autostart import host_down

        return host_down(self, timeout=timeout, progress=progress)

    def resize_disk(self, name: str, size: int | str) -> MachineInfo:
        """Grow a stopped machine's disk to size (MiB, or like 2G): creature.builtin.disks (usage: builtin.stats.collect)."""
        from creature.builtin.disks.resize import resize_disk

        return resize_disk(self, name, size)

    def plan_create(self, spec: MachineSpec | dict, access=None, cloud_init=None) -> dict:
        """What create would write and run (creature.builtin.support.dryrun); the home is not touched."""
        from creature.builtin.support.dryrun import plan_create

        return plan_create(self, spec, access, cloud_init)

    def plan(self, name: str, action: str) -> list[list[str]]:
        """The commands `action` would run on machine name, without running them (creature.builtin.support.dryrun)."""
        from creature.builtin.support.dryrun import plan

        return plan(self, name, action)

    @cached_property
    def snapshots(self):
        """Snapshots (create, list, restore, remove), export and import of this home's machines (creature.builtin.snapshots)."""
        from creature.builtin.snapshots.snapshots import Snapshots

        return Snapshots(self)

    def doctor(self, fix: bool = False) -> list[dict]:
        """Leftovers of interrupted work (creature.builtin.doctor.repair); with fix, removed."""
        from creature.builtin.doctor.repair import find_leftovers

        return find_leftovers(self, fix=fix)

    def rebuild_inventory(self) -> dict[str, Any]:
        """Move a damaged inventory aside and rebuild it from the machine folders (creature.builtin.doctor.repair)."""
        from creature.builtin.doctor.repair import rebuild_inventory

        return rebuild_inventory(self)

