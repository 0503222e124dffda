"""Choosing UML's TMPDIR: its guest memory is a file there, mapped executable, so the folder must not be noexec."""

from __future__ import annotations

import mmap
import os
import tempfile

# TMPDIR first (the operator's choice), then tmpfs (memory-backed, like guest RAM should be), then /tmp.
CANDIDATES = ("/dev/shm", "/tmp", "/var/tmp")


def allows_exec_mapping(folder: str) -> str:
    """Empty if a file in folder can be mapped executable (what UML does with its memory file), else why not."""
    try:
        fd, path = tempfile.mkstemp(prefix=".creature-uml-", dir=folder)
    except OSError as exc:
        return f"cannot create a file in {folder}: {exc.strerror}"
    try:
        os.unlink(path)
        os.ftruncate(fd, mmap.PAGESIZE)
        try:
            area = mmap.mmap(fd, mmap.PAGESIZE, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_EXEC)
        except OSError as exc:
            return f"{folder} refuses executable mappings ({exc.strerror}; mounted noexec?)"
        area.close()
        return ""
    finally:
        os.close(fd)


def exec_tmpdir() -> tuple[str | None, list[str]]:
    """The first candidate folder that allows executable mappings, and why each earlier one was passed over."""
    rejected = []
    env = os.environ.get("TMPDIR")
    for folder in ([env] if env else []) + [c for c in CANDIDATES if c != env]:
        if not os.path.isdir(folder):
            rejected.append(f"{folder} does not exist")
            continue
        why = allows_exec_mapping(folder)
        if not why:
            return folder, rejected
        rejected.append(why)
    return None, rejected
