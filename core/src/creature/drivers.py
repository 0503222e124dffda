"""The Driver base class every hypervisor plugin subclasses, its capabilities, probes and registry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from creature.errors import InputError
from creature.records import MachineData, Record

if TYPE_CHECKING:
    from creature.builtin.support.usage import MachineStats
    from creature.home import Home
    from creature.host import HostFacts
    from creature.records import Address, Machine, State, Template


class Capabilities(Record, frozen=True, kw_only=True):
    """What a driver can do; the core checks these before calling, the docs' support matrix shows them.

    Those in METHODS name the Driver methods behind them (remote: reach(), for machines on other hosts; placement:
    nodes(), for clusters; snapshot and export; disk_limit: resize_disk(), and create() honours spec.disk; stats);
    the conformance kit checks that a driver implements exactly those it declares. snapshot_running: a running machine
    can be snapshotted consistently; snapshot_memory: such a snapshot holds its memory too (restored, it runs on from
    there). exec_channel says what exec goes through; guest_access: create puts --ssh-key and --root-password into
    the guest (the core refuses them otherwise); cloud_init: the guest gets create's NoCloud data (Machine.nocloud).
    """

    console: bool = False
    exec: bool = False
    exec_channel: str = ""
    guest_access: bool = False
    cloud_init: bool = False
    remote: bool = False
    autostart: bool = True
    cow_clone: bool = False
    graceful_stop: bool = True
    networks: bool = False
    vm: bool = False
    uses_macs: bool = True  # False: guests share the host's network stack (VServer), there is no NIC to give a MAC
    snapshot: bool = False
    snapshot_running: bool = False
    snapshot_memory: bool = False
    export: bool = False
    placement: bool = False  # a cluster: where a machine runs (create --node, the node column)
    migrate: bool = False  # moving a running machine to another node while it runs
    failover: bool = False  # restarting a machine on another node
    disk_limit: bool = False
    stats: bool = False



# capability -> the Driver methods behind it (the conformance kit checks each driver against this)
METHODS = {"console": ("console",), "exec": ("exec",), "remote": ("reach",), "export": ("export_root",),
           "snapshot": ("snapshot_create", "snapshot_restore", "snapshot_remove", "snapshot_list"),
           "placement": ("nodes",), "migrate": ("migrate",), "failover": ("failover",),
           "disk_limit": ("resize_disk",), "stats": ("stats",)}


class Check(Record, frozen=True):
    """One probe or host check, with the exact reason for its outcome."""

    name: str
    ok: bool
    reason: str


class Probe(Record, frozen=True):
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


class StopResult(Record):
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

    @classmethod
    def check_host(cls, uri: str, access) -> dict[str, str]:
        """(capability remote) Check what `host add` gave (creature.sdk.HostAccess); the files (name: text) to keep 0600."""
        if access.given():
            raise InputError(f"driver {cls.name!r} takes no {', '.join(access.given())} for a host")
        return {}

    def check_options(self, options: dict[str, str]) -> None:
        """Refuse (InputError) create's --option KEY=VALUE this driver does not take."""
        if options:
            raise InputError(f"driver {self.name!r} takes no --option (got {', '.join(sorted(options))})")

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

    def snapshot_create(self, machine: Machine, snap: str, folder: Path, running: bool) -> dict:
        """(capability snapshot) Save the machine's disks (running: with its memory, if snapshot_memory) as snap.

        folder: the snapshot's own empty folder, put in place by the core only when this returns; native snapshots
        are named snap. Return {"memory": bool, "size": bytes the snapshot takes outside folder}.
        """
        raise NotImplementedError

    def snapshot_restore(self, machine: Machine, snap: str, folder: Path, memory: bool) -> None:
        """(capability snapshot) Put the disks back as snap saved them, all or nothing; with memory the machine then
        runs on from the saved moment (started if it was stopped: the core has plugged its NICs)."""
        raise NotImplementedError

    def snapshot_remove(self, machine: Machine, snap: str, folder: Path) -> None:
        """(capability snapshot) Delete what snap holds outside folder (the core removes folder); gone already is fine."""
        raise NotImplementedError

    def snapshot_list(self, machine: Machine) -> list[str]:
        """(capability snapshot) Names of the native snapshots the hypervisor holds ([] where they are only files)."""
        raise NotImplementedError

    def export_root(self, machine: Machine, scratch: Path) -> tuple[str, Path]:
        """(capability export) The stopped machine's root flattened: ("rootfs", folder) or ("qcow2", image), made in
        scratch unless it already exists whole; the caller removes scratch."""
        raise NotImplementedError

    def nodes(self, machines: list[Machine]) -> dict[str, str]:
        """(capability placement) The node each machine is placed on now, in one query."""
        raise NotImplementedError

    def migrate(self, machine: Machine, node: str | None) -> None:
        """(capability migrate) Move a running machine to node (None: the cluster chooses) while it runs."""
        raise NotImplementedError

    def failover(self, machine: Machine, node: str | None, timeout: float) -> None:
        """(capability failover) Stop it (graceful up to timeout), start it on node (None: the cluster chooses)."""
        raise NotImplementedError


def require(driver: Driver, capability: str, what: str) -> None:
    """Refuse an operation the driver's capabilities say it lacks."""
    if not getattr(driver.capabilities, capability):
        raise InputError(f"driver {driver.name!r} does not support {what}")
