"""The util-vserver configuration folder (/etc/vservers/NAME) of a guest, and `vserver-stat` output."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from creature.sdk import State

PAGE_KIB = 4


@dataclass
class Interface:
    """One address the guest may use on a host device (a VServer guest shares the host's network stack)."""

    ip: str
    dev: str
    prefix: int = 24


def write_layout(folder: Path, name: str, xid: int, vdir: Path, cpus: int, memory: int,
                 interfaces: list[Interface]) -> None:
    """Fill folder with the files util-vserver reads for guest name (see util-vserver's configuration reference)."""
    files = {
        "context": f"{xid}\n",
        "name": f"{name}\n",
        "uts/nodename": f"{name}\n",
        # plain: util-vserver runs the guest's own /sbin/init
        "apps/init/style": "plain\n",
        # rss is counted in pages: the guest's memory limit
        "rlimits/rss": f"{memory * 1024 // PAGE_KIB}\n",
        "cpuset/name": f"creature-{name}\n",
        "cpuset/cpus": f"0-{cpus - 1}\n" if cpus > 1 else "0\n",
        "cpuset/mems": "0\n",
    }
    for i, iface in enumerate(interfaces):
        files |= {f"interfaces/{i}/ip": f"{iface.ip}\n", f"interfaces/{i}/dev": f"{iface.dev}\n",
                  f"interfaces/{i}/prefix": f"{iface.prefix}\n"}
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
    # vdir names the guest's root folder (absolute, the final path)
    (folder / "vdir").symlink_to(vdir)


def read_layout(folder: Path) -> dict[str, str]:
    """Every setting file below folder, relative path to stripped content (vdir as its link target)."""
    found = {}
    for root, _dirs, names in os.walk(folder):
        for n in names:
            path = Path(root) / n
            rel = str(path.relative_to(folder))
            found[rel] = os.readlink(path) if path.is_symlink() else path.read_text().strip()
    return found


def parse_vserver_stat(text: str) -> dict[str, int]:
    """Running guests' names to context IDs from `vserver-stat` (the host's context 0 is "root server")."""
    running = {}
    for line in text.splitlines()[1:]:
        # CTX PROC VSZ RSS userTIME sysTIME UPTIME NAME: the name is last and may hold spaces
        fields = line.split(None, 7)
        if len(fields) == 8 and fields[0].isdigit() and fields[0] != "0":
            running[fields[7].strip()] = int(fields[0])
    return running


def state_of(name: str, running: dict[str, int]) -> State:
    return State.RUNNING if name in running else State.STOPPED
