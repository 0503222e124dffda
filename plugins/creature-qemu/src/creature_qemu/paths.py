"""Where a QEMU machine's files live inside its folder (a module of its own: the states function needs it)."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path


# a named tuple, as creature.sdk.ProcessRecord: `list` reads this module for every QEMU machine
class Paths(namedtuple("Paths", ("dir",))):
    """The files of a running machine, all inside its folder (sockets and logs private to root)."""

    __slots__ = ()
    dir: Path

    @property
    def disk(self) -> Path:
        return self.dir / "disk.qcow2"

    @property
    def qmp(self) -> Path:
        return self.dir / "qmp.sock"

    @property
    def console(self) -> Path:
        return self.dir / "console.sock"

    @property
    def console_log(self) -> Path:
        return self.dir / "console.log"

    @property
    def pidfile(self) -> Path:
        return self.dir / "qemu.pid"

    @property
    def agent(self) -> Path:
        """The guest agent channel: agent.in and agent.out, FIFOs QEMU's pipe chardev holds (creature.sdk.FifoChannel)."""
        return self.dir / "agent"

    @property
    def record(self) -> Path:
        return self.dir / "run.json"
