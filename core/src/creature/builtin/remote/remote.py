"""The API of another host's machines: its own creature home, offering only drivers that reach other hosts."""

from __future__ import annotations

from creature.api import Creature
from creature.errors import CreatureError, InputError
from creature.home import Home


class RemoteCreature(Creature):
    """A Creature whose machines live on a remote host: only drivers that can reach it are offered."""

    def __init__(self, home: Home, host: str):
        super().__init__(home)
        self.host_name = host

    def driver(self, name: str):
        entry = self.registry.entry(name)
        if not entry.cls.capabilities.remote:
            raise InputError(f"driver {name!r} manages this host only; on host {self.host_name!r} use one of: "
                             f"{', '.join(self.remote_drivers()) or 'none installed'}")
        return super().driver(name)

    def remote_drivers(self) -> list[str]:
        """The installed drivers that reach other hosts (capability remote)."""
        found = []
        for name, entry in self.registry:
            try:
                if entry.cls.capabilities.remote:
                    found.append(name)
            except CreatureError:
                pass  # a driver that cannot be loaded reaches no host
        return found
