"""Validation of operator input (pydantic, imported only where input enters): machine specs, template options.

What passes becomes a plain record (creature.records) and is stored; nothing reads it through pydantic again.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from creature.errors import InputError
from creature.names import MAC_RE, check_name

_UNITS = {"": 1, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
_MEMORY_RE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
MIN_MEMORY_MIB = 16
MAX_MEMORY_MIB = 4 * 1024 * 1024
MIN_DISK_MIB, MAX_DISK_MIB = 16, 16 * 1024 * 1024  # ext4's journal and a few files; 16 TiB


def _mib(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"invalid {what} size {value!r}")
    if isinstance(value, int):
        mib = value
    else:
        match = _MEMORY_RE.match(str(value))
        if not match:
            raise ValueError(f"invalid {what} size {value!r}: use a number with an optional unit, like 512M or 2G")
        mib = int(int(match.group(1)) * _UNITS[match.group(2).lower()])
    if not low <= mib <= high:
        raise ValueError(f"{what} {value!r} is out of range ({low}M to {high // 1024}G)")
    return mib


def parse_memory(value: Any) -> int:
    """Memory in MiB from 512, '512M', '1G', '1GiB' (a bare number means MiB)."""
    return _mib(value, "memory", MIN_MEMORY_MIB, MAX_MEMORY_MIB)


def parse_disk(value: Any) -> int:
    """A disk size in MiB, written like memory (512M, 2G; a bare number means MiB)."""
    return _mib(value, "disk", MIN_DISK_MIB, MAX_DISK_MIB)


def one_line(exc: ValidationError) -> str:
    """A pydantic validation error as one readable line."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


class NicInput(BaseModel):
    """One NIC as the operator gives it (--network/--mac/--ip or [[nics]] in a spec file)."""

    model_config = ConfigDict(extra="forbid")

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


class SpecInput(BaseModel):
    """A machine spec as the operator gives it (options, spec file): the rules creature.records.MachineSpec obeys."""

    model_config = ConfigDict(extra="forbid")

    name: str
    driver: str | None = None
    template: str
    cpus: int = Field(default=1, ge=1, le=256)
    memory: int = 256
    disk: int | None = None
    autostart: bool = False
    autostart_order: int = Field(default=0, ge=0, le=1000)
    autostart_delay: float = Field(default=0.0, ge=0, le=3600)
    nics: list[NicInput] = Field(default_factory=list)
    node: str | None = None
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

    @field_validator("disk", mode="before")
    @classmethod
    def _disk(cls, value: Any) -> int | None:
        return None if value is None else parse_disk(value)


def validate_spec(data: dict) -> dict:
    """Operator input for a machine spec, validated and normalised (creature.records.MachineSpec.parse makes the record)."""
    if "name" in data:
        check_name("machine", data["name"])
    try:
        return SpecInput.model_validate(data).model_dump()
    except ValidationError as exc:
        raise InputError(one_line(exc)) from None


def validate_options(method: str, model: type[BaseModel], options: dict) -> dict:
    """A template method's options checked with its model (by flag name); unknown ones and bad values: one-line InputError."""
    known = {field.alias or name for name, field in model.model_fields.items()}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(f"method {method!r} does not take {', '.join(unknown)} (it takes {', '.join(sorted(known))})")
    try:
        valid = model.model_validate(options)
    except ValidationError as exc:
        raise InputError(one_line(exc)) from None
    return valid.model_dump(by_alias=True, mode="json")
