"""Parsers for what xl prints: `xl list -l` (JSON) and the state flags of `xl list`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from creature.sdk import CreatureError, State


@dataclass(frozen=True)
class XlDomainInfo:
    """One domain as `xl list -l` shows it."""

    domid: int | None
    name: str
    memory_kib: int | None
    vcpus: int | None


def parse_list_long(text: str) -> dict[str, XlDomainInfo]:
    """Domains by name from `xl list -l` JSON: a list of {"domid": N, "config": libxl_domain_config}."""
    stripped = text.strip()
    if not stripped:
        return {}
    if not stripped.startswith("["):
        # xl.conf may say output_format="sxp": that older format is not parsed here
        raise CreatureError("`xl list -l` did not print JSON (set output_format=\"json\" in /etc/xen/xl.conf)")
    try:
        entries = json.loads(stripped)
    except ValueError as exc:
        raise CreatureError(f"`xl list -l` printed invalid JSON: {exc}") from None
    found = {}
    for entry in entries:
        config = entry.get("config") or {}
        name = (config.get("c_info") or {}).get("name")
        if not name:
            continue
        b_info = config.get("b_info") or {}
        found[name] = XlDomainInfo(
            domid=entry.get("domid"), name=name, memory_kib=b_info.get("max_memkb"), vcpus=b_info.get("max_vcpus"),
        )
    return found


def parse_list_states(text: str) -> dict[str, str]:
    """The six-letter State column of `xl list` by domain name (r b p s c d, '-' for unset)."""
    states = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        # Name ID Mem VCPUs State Time(s); a name has no spaces in xl's own listing
        if len(fields) >= 6 and len(fields[4]) == 6:
            states[fields[0]] = fields[4]
    return states


def state_of(flags: str | None) -> State:
    """A creature State from xl's flags: paused, crashed, shut down or dying count as not running."""
    if flags is None:
        return State.STOPPED
    if "c" in flags:
        return State.CRASHED
    if "p" in flags:
        return State.PAUSED
    if "s" in flags or "d" in flags:
        return State.STOPPED
    return State.RUNNING
