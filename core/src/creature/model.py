"""The data creature keeps and shows: machine specs, templates, machine info."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from creature.errors import InputError
from creature.state import State  # noqa: F401 (re-exported: drivers import State from here)

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
_UNITS = {"": 1, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
_MEMORY_RE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
MIN_MEMORY_MIB = 16
MAX_MEMORY_MIB = 4 * 1024 * 1024


def check_name(kind: str, value: Any) -> str:
    """Return value if it is a valid name (a DNS label: it becomes a hostname and a folder name)."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        shown = repr(value) if not isinstance(value, str) or len(value) <= 40 else repr(value[:40] + "...")
        raise InputError(
            f"invalid {kind} name {shown}: use 1-63 lowercase letters, digits and '-',"
            " starting and ending with a letter or digit"
        )
    return value


def parse_memory(value: Any) -> int:
    """Memory in MiB from 512, '512M', '1G', '1GiB' (a bare number means MiB)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid memory size {value!r}")
    if isinstance(value, int):
        mib = value
    else:
        match = _MEMORY_RE.match(str(value))
        if not match:
            raise ValueError(f"invalid memory size {value!r}: use a number with an optional unit, like 512M or 2G")
        mib = int(int(match.group(1)) * _UNITS[match.group(2).lower()])
    if not MIN_MEMORY_MIB <= mib <= MAX_MEMORY_MIB:
        raise ValueError(f"memory {value!r} is out of range ({MIN_MEMORY_MIB}M to {MAX_MEMORY_MIB // 1024}G)")
    return mib


def one_line(exc: ValidationError) -> str:
    """A pydantic validation error as one readable line."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


class Nic(BaseModel):
    """One network interface of a machine."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    network: str | None = None
    mac: str | None = None
    ip: str | None = None

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.lower()
        if not MAC_RE.match(value):
            raise ValueError(f"invalid MAC address {value!r}")
        if int(value[:2], 16) & 1:
            raise ValueError(f"MAC address {value!r} is multicast")
        return value


class MachineSpec(BaseModel):
    """What the operator asked for: the durable definition of a machine."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str
    driver: str | None = None
    template: str
    cpus: int = Field(default=1, ge=1, le=256)
    memory: int = 256
    autostart: bool = False
    autostart_order: int = Field(default=0, ge=0, le=1000)
    autostart_delay: float = Field(default=0, ge=0, le=3600)
    nics: list[Nic] = Field(default_factory=list)
    # the cluster node asked for (drivers with capability placement; None: the cluster's allocator chooses)
    node: str | None = None
    # the driver's own create options (--option KEY=VALUE), checked by Driver.check_options
    options: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        try:
            return check_name("machine", value)
        except InputError as exc:
            raise ValueError(str(exc).removeprefix("invalid machine name ")) from None

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, value: Any) -> int:
        return parse_memory(value)

    @classmethod
    def parse(cls, data: dict) -> MachineSpec:
        """Validate data into a spec; a bad value is an InputError of one line."""
        if "name" in data:
            check_name("machine", data["name"])
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InputError(one_line(exc)) from None


class Template(BaseModel):
    """A root filesystem built once, from which machines are cloned."""

    model_config = ConfigDict(defer_build=True)

    name: str
    method: str
    path: Path
    options: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)
    size: int = 0
    created: float = Field(default_factory=time.time)

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"


class Machine(BaseModel):
    """A machine as the inventory holds it: its spec, its folder and its driver's own data."""

    model_config = ConfigDict(defer_build=True)

    spec: MachineSpec
    dir: Path
    data: dict[str, Any] = Field(default_factory=dict)
    # create-time SSH keys and root password hash (creature.guest.Access): handed to the driver, never stored
    access: Any = Field(default=None, exclude=True, repr=False)
    created: float = Field(default_factory=time.time)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def driver(self) -> str:
        assert self.spec.driver is not None
        return self.spec.driver


class Address(BaseModel):
    """One address of a machine and where creature learned it."""

    model_config = ConfigDict(defer_build=True)

    mac: str | None = None
    ip: str
    source: str


class MachineInfo(BaseModel):
    """What `creature list` and `show` report about one machine."""

    model_config = ConfigDict(defer_build=True)

    name: str
    driver: str
    state: State
    node: str | None = None  # where a cluster runs it (drivers with capability placement)
    autostart: bool
    template: str
    cpus: int
    memory: int
    macs: list[str] = Field(default_factory=list)
    ips: list[str] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    nics: list[Nic] = Field(default_factory=list)
    clone: str | None = None
    dir: str = ""
    created: float = 0
    note: str | None = None
    details: dict[str, str] = Field(default_factory=dict)


class Network(BaseModel):
    """A creature network: a bridge creature makes (with a dnsmasq unless dhcp is off), or an external one."""

    name: str
    bridge: str
    subnet: str | None = None
    gateway: str | None = None
    dhcp_start: str | None = None
    dhcp_end: str | None = None
    dhcp: bool = True
    external: bool = False
    created: float = Field(default_factory=time.time)
