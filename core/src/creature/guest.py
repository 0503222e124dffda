"""Adjusting a cloned guest's files for its name (the "adjust init" step raw lxc-debian leaves undone)."""

from __future__ import annotations

import os
from pathlib import Path


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel
    for parent in reversed(path.relative_to(root).parents[:-1]):
        d = root / parent
        if not d.exists():
            d.mkdir(mode=0o755)
    if path.is_symlink():
        path.unlink()  # never write through a guest's symlink onto the host
    path.write_text(text)
    os.chmod(path, mode)


def adjust(root: Path, name: str) -> None:
    """Write hostname and /etc/hosts into root (a rootfs or an overlay's upper folder)."""
    _write(root, "etc/hostname", f"{name}\n")
    _write(root, "etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n::1\tlocalhost ip6-localhost ip6-loopback\n")
