"""The API of another host's machines: its own creature home, offering only drivers that reach other hosts."""

from __future__ import annotations

from creature.api import Creature
from creature.errors import InputError
from creature.home import Home


class RemoteCreature(Creature):
    """A Creature whose machines live on a remote host: only drivers that can reach it are offered."""

    def __init__(self, home: Home, host: str):
        super().__init__(home)
        self.host_name = host

    def driver(self, name: str):
        entry = self.registry.entry(name)
        if not entry.cls.capabilities.remote:
            raise InputError(f"driver {name!r} manages this host only; on host {self.host_name!r} use a libvirt driver")
        return super().driver(name)
