"""Network interfaces of this (or another) namespace, through ip(8): which exist, and valid interface names."""

from __future__ import annotations

import json
import re

from creature.errors import CreatureError, InputError
from creature.procs import run, which

IFNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")


def _ip() -> str:
    ip = which("ip")
    if ip is None:
        raise CreatureError("ip is not installed (Debian package iproute2)")
    return ip

def links(prefix: list[str] | None = None) -> dict[str, str]:
    """Interfaces of the (current, or prefix's) network namespace: name -> kind ("bridge", "veth", "" for plain)."""
    out = run([*(prefix or []), _ip(), "-j", "-d", "link", "show"]).stdout
    return {link["ifname"]: link.get("linkinfo", {}).get("info_kind", "") for link in json.loads(out or "[]")}

def check_ifname(value: str, what: str = "bridge") -> str:
    if not IFNAME_RE.match(value):
        raise InputError(f"invalid {what} name {value!r}: an interface name has 1-15 letters, digits, '-', '_' or '.'")
    return value
