"""What creature stores and shows, as plain records: read back without pydantic.

Input is validated once, where it enters (creature.model: create, spec files, config); what the
inventory holds was validated then, so everyday commands (start, stop, show, list) read it into these
records without validating it again.

Record is a dataclass without the dataclasses module: every command reads records, and there making a
dataclass costs ~0.5 ms a class (its methods are compiled from source) and importing dataclasses (with
inspect) ~7 ms, a tenth of a `creature destroy`. A Record class costs ~20 us; its fields, defaults, frozen,
kw_only, repr and compare behave as dataclasses' do, and replace(), to_dict() and fields() stand in for
dataclasses.replace, asdict and fields.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TypedDict

from creature.state import State

_MISSING = object()


class FrozenRecordError(AttributeError):
    """An attempt to change a frozen record (make a changed copy with replace())."""


class Field:
    """A field's options, as dataclasses.field takes them (factory is default_factory)."""

    __slots__ = ("default", "factory", "kw_only", "repr", "compare")

    def __init__(self, default: Any = _MISSING, *, factory=None, kw_only: bool = False, repr: bool = True,
                 compare: bool = True):
        self.default, self.factory, self.kw_only, self.repr, self.compare = default, factory, kw_only, repr, compare


def field(default: Any = _MISSING, **options) -> Any:
    """Options of one field: field(default, factory=list, kw_only=True, repr=False, compare=False)."""
    return Field(default, **options)


class Record:
    """A value class made from its annotations, like a dataclass: `class R(Record, frozen=True, kw_only=False)`."""

    _fields: dict[str, Field] = {}
    _positional: tuple[str, ...] = ()
    _frozen = False

    def __init_subclass__(cls, frozen: bool = False, kw_only: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        fields = dict(cls._fields)
        for name, kind in cls.__dict__.get("__annotations__", {}).items():
            if str(kind).startswith("ClassVar"):
                continue
            value = cls.__dict__.get(name, _MISSING)
            spec = value if isinstance(value, Field) else Field(value)
            spec.kw_only = spec.kw_only or kw_only
            fields[name] = spec
            if isinstance(value, Field):
                delattr(cls, name)
        cls._fields, cls._frozen = fields, frozen or cls._frozen
        cls._positional = tuple(n for n, f in fields.items() if not f.kw_only)
        # like a dataclass with eq: hashable when frozen, else not (equal records may change)
        cls.__hash__ = Record.__hash__ if cls._frozen else None

    def __init__(self, *args, **kwargs):
        cls = type(self)
        if len(args) > len(cls._positional):
            raise TypeError(f"{cls.__name__}() takes {len(cls._positional)} positional arguments, {len(args)} given")
        values = dict(zip(cls._positional, args, strict=False))  # fewer args than fields: the rest by name or default
        for name, value in kwargs.items():
            if name not in cls._fields or name in values:
                raise TypeError(f"{cls.__name__}() got an unexpected or repeated argument {name!r}")
            values[name] = value
        for name, spec in cls._fields.items():
            if name not in values:
                if spec.factory is not None:
                    values[name] = spec.factory()
                elif spec.default is _MISSING:
                    raise TypeError(f"{cls.__name__}() is missing argument {name!r}")
                else:
                    values[name] = spec.default
        self.__dict__.update(values)

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The names of the fields, in order."""
        return tuple(cls._fields)

    def _key(self) -> tuple:
        return tuple(getattr(self, n) for n, f in self._fields.items() if f.compare)

    def __eq__(self, other):
        return self._key() == other._key() if type(other) is type(self) else NotImplemented

    def __hash__(self):
        return hash(self._key())

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n, f in self._fields.items() if f.repr)
        return f"{type(self).__name__}({shown})"

    def __setattr__(self, name, value):
        if self._frozen:
            raise FrozenRecordError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")
        super().__setattr__(name, value)

    def __delattr__(self, name):
        if self._frozen:
            raise FrozenRecordError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")
        super().__delattr__(name)

    def replace(self, **changes):
        """A copy with changes (records are values: change a copy, never a shared one)."""
        return type(self)(**{**{n: getattr(self, n) for n in self._fields}, **changes})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields, records among them as dicts, paths as strings, states as their values."""
        return _plain(self)


def _plain(value):
    if isinstance(value, Record):
        return {n: _plain(getattr(value, n)) for n in value._fields}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, State):
        return value.value
    return value


class Nic(Record, frozen=True):
    """One network interface of a machine: its network, MAC and reserved IP (assigned at create)."""

    network: str | None = None
    mac: str | None = None
    ip: str | None = None


class MachineSpec(Record, frozen=True):
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
    options: dict[str, str] = field(factory=dict)  # the driver's own (--option KEY=VALUE: Driver.check_options)

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


class Machine(Record):
    """A machine as the inventory holds it: its spec, its folder and its driver's own data."""

    spec: MachineSpec
    dir: Path
    data: dict[str, Any] = field(factory=dict)
    created: float = field(factory=time.time)
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


class TemplateMeta(Record, frozen=True):
    """What a template's rootfs holds, as its method and creature.builtin.bootstrap.osinfo found it (drivers read these)."""

    os: str = "unknown"
    version: str = ""
    init: str | None = None
    init_system: str | None = None
    halt_signal: str | None = None
    kernel: str | None = None  # absolute host paths once the template is built
    initrd: str | None = None
    cache_hit: str | None = None
    extra: dict[str, Any] = field(factory=dict)  # a method's own facts

    @classmethod
    def from_dict(cls, data: dict) -> TemplateMeta:
        """From what a method returned, or what the inventory stored (flat: a method's own facts beside ours)."""
        names = set(cls.fields()) - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        return cls(**known, extra={**data.get("extra", {}), **{k: v for k, v in data.items() if k not in names | {"extra"}}})

    def to_dict(self) -> dict[str, Any]:
        """Flat, as stored: the known facts and a method's own side by side."""
        flat = {n: getattr(self, n) for n in self.fields() if n != "extra"}
        return {**{k: v for k, v in flat.items() if v is not None}, **self.extra}

    def __getitem__(self, key: str):
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key: str, default=None):
        """A fact by name, a method's own ones included (dict-style access for callers that name facts as data)."""
        if key != "extra" and key in self._fields:
            value = getattr(self, key)
            return default if value is None else value
        return self.extra.get(key, default)


class Template(Record):
    """A root filesystem built once, from which machines are cloned."""

    name: str
    method: str
    path: Path
    options: dict[str, Any] = field(factory=dict)
    meta: TemplateMeta = field(factory=TemplateMeta)
    size: int = 0
    created: float = field(factory=time.time)

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    @classmethod
    def from_dict(cls, data: dict) -> Template:
        return cls(**{**data, "path": Path(data["path"]), "meta": TemplateMeta.from_dict(data.get("meta") or {})})

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "meta": self.meta.to_dict()}


class Network(Record, frozen=True):
    """A creature network: a bridge creature makes (with a dnsmasq unless dhcp is off), or an external one."""

    name: str
    bridge: str
    subnet: str | None = None
    gateway: str | None = None
    dhcp_start: str | None = None
    dhcp_end: str | None = None
    dhcp: bool = True
    external: bool = False
    created: float = field(factory=time.time)

    @classmethod
    def from_dict(cls, data: dict) -> Network:
        return cls(**data)


class Address(Record, frozen=True, kw_only=True):
    """One address of a machine and where creature learned it (dhcp-lease, neighbour, a driver's source)."""

    mac: str | None = None
    ip: str
    source: str


class MachineInfo(Record):
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
    macs: list[str] = field(factory=list)
    ips: list[str] = field(factory=list)
    addresses: list[Address] = field(factory=list)
    nics: list[Nic] = field(factory=list)
    clone: str | None = None
    dir: str = ""
    created: float = 0
    note: str | None = None
    details: dict[str, str] = field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; node only for a machine on a cluster (every other listing stays as it was)."""
        return {k: v for k, v in super().to_dict().items() if k != "node" or v is not None}
