"""OpenVZ's per-container configuration (ve.conf, read by vzctl as /etc/vz/conf/CTID.conf) and vzlist's JSON."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from creature.sdk import CreatureError, InputError, State

_LINE = re.compile(r'^(?P<key>[A-Z_][A-Z0-9_]*)="(?P<value>[^"]*)"$')
_STATUS = {"running": State.RUNNING, "stopped": State.STOPPED, "mounted": State.STOPPED,
           "suspended": State.STOPPED, "paused": State.PAUSED}


@dataclass
class Veth:
    """One veth NIC: the container's interface, both MACs and the host bridge (vzctl --netif_add)."""

    ifname: str
    mac: str
    host_ifname: str
    host_mac: str
    bridge: str

    def netif(self) -> str:
        return f"ifname={self.ifname},mac={self.mac},host_ifname={self.host_ifname},host_mac={self.host_mac},bridge={self.bridge}"


def write_veconf(settings: dict[str, str]) -> str:
    """ve.conf text: shell-style KEY="value" lines, the syntax vzctl parses."""
    lines = ["# written by creature: vzctl reads this file as /etc/vz/conf/CTID.conf"]
    for key, value in settings.items():
        if '"' in value or "\n" in value or "$" in value:
            raise InputError(f"cannot write {value!r} into ve.conf: it contains a quote, $ or newline")
        lines.append(f'{key}="{value}"')
    return "\n".join(lines) + "\n"


def read_veconf(text: str) -> dict[str, str]:
    """Settings from ve.conf text (comments and blank lines skipped)."""
    settings = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ValueError(f"not a ve.conf line: {line!r}")
        settings[match.group("key")] = match.group("value")
    return settings


def container_settings(name: str, private: str, root: str, ostemplate: str, cpus: int, memory: int,
                       veths: list[Veth]) -> dict[str, str]:
    """ve.conf of a creature container: simfs private area, vSwap memory limit, CPUs, veth NICs."""
    settings = {
        "VE_ROOT": root,
        "VE_PRIVATE": private,
        "VE_LAYOUT": "simfs",
        "OSTEMPLATE": ostemplate,
        "NAME": name,
        "HOSTNAME": name,
        "ONBOOT": "no",
        "CPUS": str(cpus),
        # vSwap: PHYSPAGES is the RAM limit, barrier 0
        "PHYSPAGES": f"0:{memory}M",
        "SWAPPAGES": "0:0",
    }
    if veths:
        settings["NETIF"] = ";".join(v.netif() for v in veths)
    return settings


def parse_vzlist_json(text: str) -> dict[str, dict]:
    """Containers by CTID (as a string) from `vzlist -a -j`: a JSON list of objects with ctid and status."""
    try:
        rows = json.loads(text) if text.strip() else []
    except ValueError as exc:
        raise CreatureError(f"`vzlist -j` printed invalid JSON: {exc}") from None
    return {str(row.get("ctid", row.get("veid"))): row for row in rows}


def state_of(row: dict | None) -> State:
    """A creature State from a vzlist row's status (a container absent from the list is stopped)."""
    if row is None:
        return State.STOPPED
    return _STATUS.get(row.get("status", ""), State.UNKNOWN)
