"""The lguest launcher's command line: lguest has no configuration file, its argv is the machine's definition."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LguestGuest:
    """What the launcher is told: memory, kernel, initrd, one block device, tun NICs on bridges, kernel arguments."""

    memory: int
    kernel: Path
    initrd: Path | None
    block: Path
    nics: list[tuple[str, str]] = field(default_factory=list)  # (bridge, mac)
    args: list[str] = field(default_factory=list)


def launcher_argv(launcher: str, guest: LguestGuest) -> list[str]:
    """argv in the launcher's syntax (tools/lguest/lguest.c, usage()):
    lguest [--tunnet=bridge:<bridgename>:<macaddr>|--block=<filename>|--initrd=<filename>]... <mem-in-mb> vmlinux [args...]
    """
    argv = [launcher]
    argv += [f"--tunnet=bridge:{bridge}:{mac}" for bridge, mac in guest.nics]
    argv.append(f"--block={guest.block}")
    if guest.initrd is not None:
        argv.append(f"--initrd={guest.initrd}")
    return [*argv, str(guest.memory), str(guest.kernel), *guest.args]


def parse_launcher_argv(argv: list[str]) -> LguestGuest:
    """The guest an argv describes (the inverse of launcher_argv)."""
    nics, block, initrd = [], None, None
    rest = list(argv[1:])
    while rest and rest[0].startswith("--"):
        option, _, value = rest.pop(0).partition("=")
        if option == "--tunnet" and value.startswith("bridge:"):
            bridge, _, mac = value.removeprefix("bridge:").partition(":")
            nics.append((bridge, mac))
        elif option == "--block":
            block = Path(value)
        elif option == "--initrd":
            initrd = Path(value)
        else:
            raise ValueError(f"unknown launcher option {option!r}")
    if len(rest) < 2 or block is None:
        raise ValueError(f"not a creature lguest command line: {argv!r}")
    return LguestGuest(memory=int(rest[0]), kernel=Path(rest[1]), initrd=initrd, block=block, nics=nics, args=rest[2:])
