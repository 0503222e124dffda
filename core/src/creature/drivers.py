"""The Driver base class every hypervisor plugin subclasses, its capabilities, probes and registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

from creature.errors import InputError
from creature.registry import DriverRegistry, Registered  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from creature.home import Home
    from creature.host import HostFacts
    from creature.model import Address, Machine, State, Template


class Capabilities(BaseModel):
    """What a driver can do; the core checks these before calling, the docs' support matrix shows them."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    console: bool = False
    exec: bool = False
    pause: bool = False
    snapshot: bool = False
    autostart: bool = True
    cow_clone: bool = False
    graceful_stop: bool = True
    networks: bool = False
    vm: bool = False
    # clusters: where a machine runs (create --node, the node column: Driver.nodes), moving it live
    # (Driver.migrate) or by a restart elsewhere (Driver.failover)
    placement: bool = False
    migrate: bool = False
    failover: bool = False


class Check(BaseModel):
    """One probe or host check, with the exact reason for its outcome."""

    model_config = ConfigDict(defer_build=True)

    name: str
    ok: bool
    reason: str


class Probe(BaseModel):
    """Whether a driver is usable on this host, and every check that says why."""

    model_config = ConfigDict(defer_build=True)

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
class HostAccess:
    """What `creature host add` was given besides the URI: credentials, the host's certificate, driver options."""

    user: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_cert: bytes | None = field(default=None, repr=False)
    options: dict[str, str] = field(default_factory=dict)

    def given(self) -> list[str]:
        """The command-line names of what was given (for a driver that takes none of them)."""
        names = [flag for flag, value in (("--user", self.user), ("--password-file", self.password),
                                          ("--ca-cert", self.ca_cert)) if value is not None]
        return names + [f"--option {key}" for key in self.options]


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
    # whether creature.remote may place this driver's machines on another host (`creature host add`)
    remote: ClassVar[bool] = False

    def __init__(self, home: Home):
        self.home = home
        # Set by --dry-run: create() must then write only into staging and run nothing with effects elsewhere.
        self.dry_run = False

    @classmethod
    def check_host(cls, uri: str, access: HostAccess) -> dict[str, str]:
        """Check what `host add` was given for a host of this driver; return files (name: text) to keep, 0600, in its folder."""
        if access.given():
            raise InputError(f"driver {cls.name!r} takes no {', '.join(access.given())} for a host")
        return {}

    def check_options(self, options: dict[str, str]) -> dict:
        """Check create's --option KEY=VALUE (InputError for what this driver does not take); the parsed values."""
        if options:
            raise InputError(f"driver {self.name!r} takes no --option (got {', '.join(sorted(options))})")
        return {}

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

    def details(self, machine: Machine) -> dict[str, str]:
        """What `show` adds for this hypervisor (the kernel a machine boots, say); shown as given."""
        return {}

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        """The exact argv lists `action` (start, stop, kill, destroy) would run, shown by --dry-run."""
        raise NotImplementedError

    def console(self, machine: Machine) -> int:
        """Attach the terminal to the machine's console until the user detaches."""
        raise NotImplementedError

    def exec(self, machine: Machine, argv: list[str]) -> int:
        """Run argv inside the running guest with the caller's stdio; return its exit status."""
        raise NotImplementedError

    def nodes(self, machines: list[Machine]) -> dict[str, str]:
        """The node each machine is placed on now, in one query (capability placement)."""
        raise NotImplementedError

    def migrate(self, machine: Machine, node: str | None, live: bool = True) -> None:
        """Move a running machine to node (None: where the cluster chooses) without stopping it (capability migrate)."""
        raise NotImplementedError

    def failover(self, machine: Machine, node: str | None, timeout: float) -> None:
        """Stop the machine (graceful up to timeout) and start it on node (None: the cluster chooses) (capability failover)."""
        raise NotImplementedError


def require(driver: Driver, capability: str, what: str) -> None:
    """Refuse an operation the driver's capabilities say it lacks."""
    if not getattr(driver.capabilities, capability):
        raise InputError(f"driver {driver.name!r} does not support {what}")
