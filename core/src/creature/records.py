"""What creature stores and shows, as plain records: read back without pydantic.

Input is validated once, where it enters (creature.model: create, spec files, config); what the
inventory holds was validated then, so everyday commands (start, stop, show, list) read it into these
dataclasses without validating it again.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from creature.state import State

_MISSING = object()


class _Record:
    """replace() and to_dict() for the dataclasses below."""

    def replace(self, **changes):
        """A copy with changes (records are values: change a copy, never a shared one)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: paths as strings, states as their values."""
        return _plain(dataclasses.asdict(self))


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, State):
        return value.value
    return value


@dataclass(frozen=True)
class Nic(_Record):
    """One network interface of a machine: its network, MAC and reserved IP (assigned at create)."""

    network: str | None = None
    mac: str | None = None
    ip: str | None = None


@dataclass(frozen=True)
class MachineSpec(_Record):
    """What the operator asked for: the durable definition of a machine (validated by MachineSpec.parse)."""

    name: str
    template: str
    driver: str | None = None
    cpus: int = 1
    memory: int = 256
    disk: int | None = None  # MiB: the hard limit of its disk (VMs) or writable layer (containers); None: the driver's default
    autostart: bool = False
    autostart_order: int = 0
    autostart_delay: float = 0.0
    nics: tuple[Nic, ...] = ()
    node: str | None = None  # the cluster node asked for (capability placement; None: the cluster chooses)
    options: dict[str, str] = field(default_factory=dict)  # the driver's own (--option KEY=VALUE: Driver.check_options)

    @classmethod
    def parse(cls, data: dict) -> MachineSpec:
        """Validate operator input into a spec; a bad value is an InputError of one line (imports pydantic)."""
        from creature.model import validate_spec

        fields = validate_spec(data.to_dict() if isinstance(data, MachineSpec) else data)
        return cls(**{**fields, "nics": tuple(Nic(**n) for n in fields["nics"])})

    @classmethod
    def from_dict(cls, data: dict) -> MachineSpec:
        """A spec as the inventory stores it (validated when it was created): no validation."""
        # homes written before specs were read back unvalidated may hold the delay as an int
        return cls(**{**data, "autostart_delay": float(data.get("autostart_delay", 0)),
                      "nics": tuple(Nic(**n) for n in data.get("nics", ()))})


class MachineData(TypedDict, total=False):
    """A machine's driver data: what create() returns, stored with the machine. The core reads these keys;
    each driver declares its own in a subclass (Driver.data_model), which the conformance kit checks."""

    clone: str  # how the machine's disk or rootfs was cloned: qcow2, uml-cow, overlayfs, copy, ...
    cloud_init_seed: str  # the NoCloud seed's path (a VM driver's ISO image, when --cloud-init is given)
    ssh_key: str  # the public key file root's authorized_keys holds (--ssh-key, or the home's): `creature ssh` uses its pair


@dataclass
class Machine(_Record):
    """A machine as the inventory holds it: its spec, its folder and its driver's own data."""

    spec: MachineSpec
    dir: Path
    data: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    # create-time SSH keys and root password hash (creature.builtin.guest.adjust.Access) and cloud-init data
    # (creature.builtin.guest.nocloud.NoCloud): handed to the driver's create, never stored
    access: Any = field(default=None, repr=False, compare=False)
    nocloud: Any = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def driver(self) -> str:
        assert self.spec.driver is not None
        return self.spec.driver

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "data": self.data, "dir": str(self.dir), "created": self.created}


@dataclass(frozen=True)
class TemplateMeta(_Record):
    """What a template's rootfs holds, as its method and creature.builtin.bootstrap.osinfo found it (drivers read these)."""

    os: str = "unknown"
    version: str = ""
    init: str | None = None
    init_system: str | None = None
    halt_signal: str | None = None
    kernel: str | None = None  # absolute host paths once the template is built
    initrd: str | None = None
    cache_hit: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # a method's own facts

    @classmethod
    def from_dict(cls, data: dict) -> TemplateMeta:
        """From what a method returned, or what the inventory stored (flat: a method's own facts beside ours)."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        return cls(**known, extra={**data.get("extra", {}), **{k: v for k, v in data.items() if k not in names | {"extra"}}})

    def to_dict(self) -> dict[str, Any]:
        """Flat, as stored: the known facts and a method's own side by side."""
        flat = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**{k: v for k, v in flat.items() if v is not None}, **self.extra}

    def __getitem__(self, key: str):
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key: str, default=None):
        """A fact by name, a method's own ones included (dict-style access for callers that name facts as data)."""
        if key != "extra" and key in {f.name for f in dataclasses.fields(self)}:
            value = getattr(self, key)
            return default if value is None else value
        return self.extra.get(key, default)


@dataclass
class Template(_Record):
    """A root filesystem built once, from which machines are cloned."""

    name: str
    method: str
    path: Path
    options: dict[str, Any] = field(default_factory=dict)
    meta: TemplateMeta = field(default_factory=TemplateMeta)
    size: int = 0
    created: float = field(default_factory=time.time)

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    @classmethod
    def from_dict(cls, data: dict) -> Template:
        return cls(**{**data, "path": Path(data["path"]), "meta": TemplateMeta.from_dict(data.get("meta") or {})})

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "meta": self.meta.to_dict()}


@dataclass(frozen=True)
class Network(_Record):
    """A creature network: a bridge creature makes (with a dnsmasq unless dhcp is off), or an external one."""

    name: str
    bridge: str
    subnet: str | None = None
    gateway: str | None = None
    dhcp_start: str | None = None
    dhcp_end: str | None = None
    dhcp: bool = True
    external: bool = False
    created: float = field(default_factory=time.time)

    @classmethod
    def from_dict(cls, data: dict) -> Network:
        return cls(**data)


@dataclass(frozen=True, kw_only=True)
class Address(_Record):
    """One address of a machine and where creature learned it (dhcp-lease, neighbour, a driver's source)."""

    mac: str | None = None
    ip: str
    source: str


@dataclass
class MachineInfo(_Record):
    """What `creature list` and `show` report about one machine."""

    name: str
    driver: str
    state: State
    node: str | None = field(default=None, kw_only=True)  # where a cluster runs it (capability placement)
    autostart: bool
    template: str
    cpus: int
    memory: int
    disk: int | None = None
    macs: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    nics: list[Nic] = field(default_factory=list)
    clone: str | None = None
    dir: str = ""
    created: float = 0
    note: str | None = None
    details: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; node only for a machine on a cluster (every other listing stays as it was)."""
        return {k: v for k, v in super().to_dict().items() if k != "node" or v is not None}
