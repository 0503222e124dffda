"""The merged view of an overlayfs upper folder over its lower one, read without mounting (for export).

Whiteouts (character devices 0:0) hide lower entries, an opaque folder (trusted.overlay.opaque=y) hides the
lower folder's content, an upper entry replaces a lower one: what the container saw through its overlay mount.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _names(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        return os.listdir(path)
    except (NotADirectoryError, FileNotFoundError):
        return []


def merged(upper: Path, lower: Path, rel: str = "") -> Iterator[tuple[str, Path]]:
    """(path relative to the root, the file that holds it) for every entry of the merged tree, parents first."""
    yield from _merged(upper / rel if rel else upper, lower / rel if rel else lower, rel)


def _merged(up: Path | None, low: Path | None, rel: str) -> Iterator[tuple[str, Path]]:
    if up is not None and _opaque(up):
        low = None
    upper_names, lower_names = set(_names(up)), set(_names(low))
    for name in sorted(upper_names | lower_names):
        child = f"{rel}/{name}" if rel else name
        if name in upper_names:
            source = up / name
            st = os.lstat(source)
            if _whiteout(st):
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            lower_child = low / name if is_dir and name in lower_names and os.path.isdir(low / name) \
                and not os.path.islink(low / name) else None
            yield child, source
            if is_dir:
                yield from _merged(source, lower_child, child)
        else:
            source = low / name
            yield child, source
            if source.is_dir() and not source.is_symlink():
                yield from _merged(None, source, child)
