"""The Driver base class every hypervisor plugin subclasses, its capabilities, probes and registry."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from creature.errors import InputError
from creature.records import MachineData

if TYPE_CHECKING:
    from creature.builtin.support.usage import MachineStats
    from creature.home import Home
    from creature.host import HostFacts
    from creature.records import Address, Machine, State, Template


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """What a driver can do; the core checks these before calling, the docs' support matrix shows them.

    console, exec, remote, disk_limit and stats each name the Driver method behind them (METHODS: remote is reach(),
    for machines on other hosts; disk_limit is resize_disk(), and create() honours spec.disk); the conformance kit
    checks that a driver implements exactly the methods it declares.
    """

    console: bool = False
    exec: bool = False
    remote: bool = False
    autostart: bool = True
    cow_clone: bool = False
    graceful_stop: bool = True
    networks: bool = False
    vm: bool = False
    uses_macs: bool = True  # False: guests share the host's network stack (VServer), there is no NIC to give a MAC
    disk_limit: bool = False
    stats: bool = False

    def to_dict(self) -> dict[str, bool]:
        return asdict(self)


# capability -> the Driver method behind it (the conformance kit checks each driver against this)
METHODS = {"console": "console", "exec": "exec", "remote": "reach", "disk_limit": "resize_disk", "stats": "stats"}


@dataclass(frozen=True)
class Check:
    """One probe or host check, with the exact reason for its outcome."""

    name: str
    ok: bool
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Probe:
    """Whether a driver is usable on this host, and every check that says why."""

    driver: str
    usable: bool
    checks: list[Check]

    @classmethod
    def of(cls, driver: str, checks: list[Check]) -> Probe:
        """A probe that is usable when every check passed."""
        return cls(driver=driver, usable=all(c.ok for c in checks), checks=checks)

    @property
    def reason(self) -> str:
        failed = [c.reason for c in self.checks if not c.ok]
        return "; ".join(failed) if failed else "usable"


@dataclass
class StopResult:
    """How a stop ended: forced says the guest ignored the graceful request until the timeout."""

    forced: bool = False


class Driver:
    """A hypervisor behind creature's lifecycle; subclasses set the class attributes and methods."""

    name: ClassVar[str]
    priority: ClassVar[int] = 0
    mac_prefix: ClassVar[str] = "52:54:00"
    # the highest fourth octet the hypervisor accepts under its OUI (VMware: static MACs only to 00:50:56:3f)
    mac_max4: ClassVar[int] = 0xFF
    capabilities: ClassVar[Capabilities] = Capabilities()
    description: ClassVar[str] = ""
    # the keys create() returns (a creature.records.MachineData subclass): the conformance kit checks them
    data_model: ClassVar[type] = MachineData

    def __init__(self, home: Home):
        self.home = home
        # Set by --dry-run: create() must then write only into staging and run nothing with effects elsewhere.
        self.dry_run = False

    def probe(self, host: HostFacts) -> Probe:
        """Is this hypervisor usable here? Each check carries its reason."""
        raise NotImplementedError

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        """Write the machine's files into staging (renamed to machine.dir afterwards); return driver data."""
        raise NotImplementedError

    def start(self, machine: Machine) -> None:
        """Start the machine detached; return once the hypervisor runs it."""
        raise NotImplementedError

    def stop(self, machine: Machine, timeout: float) -> StopResult:
        """Ask the guest to shut down, wait up to timeout, then force it off."""
        raise NotImplementedError

    def kill(self, machine: Machine) -> None:
        """End the machine at once."""
        raise NotImplementedError

    def destroy(self, machine: Machine) -> None:
        """Release what the machine holds outside its folder (the core removes the folder)."""

    def state(self, machine: Machine) -> State:
        """The machine's state, checked now, never remembered."""
        raise NotImplementedError

    def states(self, machines: list[Machine]) -> dict[str, State]:
        """States of many machines at once; drivers override this with one bulk query."""
        return {m.name: self.state(m) for m in machines}

    def addresses(self, machine: Machine) -> list[Address]:
        """Addresses the driver itself knows (lease files and the neighbour table come from the core)."""
        return []

    def reach(self) -> None:
        """(capability remote) Raise CreatureError unless the host this driver's home points at answers now."""
        raise NotImplementedError

    def plug_nics(self, machine: Machine) -> None:
        """Plug the machine's NICs into their networks' bridges before start (taps for VMs); the networks are up.

        Hypervisors that plug NICs themselves from their configuration (LXC veths, libvirt interfaces) need nothing.
        """

    def unplug_nics(self, machine: Machine) -> None:
        """Undo plug_nics after the machine stopped (or failed to start); missing devices are fine."""

    def details(self, machine: Machine) -> dict[str, str]:
        """What `show` adds for this hypervisor (the kernel a machine boots, say); shown as given."""
        return {}

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        """The exact argv lists `action` (start, stop, kill, destroy) would run, shown by --dry-run."""
        raise NotImplementedError

    def resize_disk(self, machine: Machine, size: int) -> None:
        """(capability disk_limit) Grow the stopped machine's disk, or its writable layer, to size MiB; never shrink it."""
        raise NotImplementedError

    def stats(self, machines: list[Machine]) -> dict[str, MachineStats]:
        """(capability stats) Usage of the running machines among machines, read from the host in one pass."""
        raise NotImplementedError

    def console(self, machine: Machine) -> int:
        """Attach the terminal to the machine's console until the user detaches."""
        raise NotImplementedError

    def exec(self, machine: Machine, argv: list[str]) -> int:
        """Run argv inside the running guest with the caller's stdio; return its exit status."""
        raise NotImplementedError


def require(driver: Driver, capability: str, what: str) -> None:
    """Refuse an operation the driver's capabilities say it lacks."""
    if not getattr(driver.capabilities, capability):
        raise InputError(f"driver {driver.name!r} does not support {what}")
