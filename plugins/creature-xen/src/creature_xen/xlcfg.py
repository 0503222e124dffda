"""The xl domain configuration (xl.cfg(5)) of a creature machine: a PV guest with one disk and its NICs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from creature.sdk import InputError


@dataclass
class XlVif:
    """One vif: its MAC and the dom0 bridge it is plugged into."""

    mac: str
    bridge: str


@dataclass
class XlDomain:
    """Everything xl.cfg says about one PV domain."""

    name: str
    kernel: Path
    ramdisk: Path | None
    disk: Path
    memory: int
    vcpus: int
    cmdline: str
    vifs: list[XlVif] = field(default_factory=list)


def quote(value: str | Path) -> str:
    """A value as a double-quoted xl.cfg string; a double quote, backslash or newline in it is refused."""
    # libxlutil would unescape \" and \\, but the disk and vif specs inside these strings and the guest's
    # command line are parsed again by other code, where an escaped character need not mean the same
    text = str(value)
    if any(c in text for c in '"\n\r\\'):
        raise InputError(f"cannot write {text!r} into xl.cfg: it contains a quote, backslash or newline")
    return f'"{text}"'


def disk_spec(target: Path) -> str:
    """The xl-disk-configuration(5) spec of the root disk; target= must come last."""
    return f"format=raw, vdev=xvda, access=rw, target={target}"


def render(domain: XlDomain) -> str:
    """xl.cfg text for domain, in the key = value syntax libxlutil parses."""
    lines = [
        f"# written by creature for machine {domain.name}: `xl create` reads it",
        f"name = {quote(domain.name)}",
        'type = "pv"',
        f"kernel = {quote(domain.kernel)}",
    ]
    if domain.ramdisk is not None:
        lines.append(f"ramdisk = {quote(domain.ramdisk)}")
    lines += [
        f"extra = {quote(domain.cmdline)}",
        f"memory = {domain.memory}",
        f"maxmem = {domain.memory}",
        f"vcpus = {domain.vcpus}",
        f"disk = [ {quote(disk_spec(domain.disk))} ]",
        "vif = [ " + ", ".join(quote(f"mac={v.mac}, bridge={v.bridge}") for v in domain.vifs) + " ]",
        # a guest that powers off is gone: creature's `stop` waits for exactly that
        'on_poweroff = "destroy"',
        'on_reboot = "restart"',
        'on_crash = "destroy"',
    ]
    return "\n".join(lines) + "\n"
