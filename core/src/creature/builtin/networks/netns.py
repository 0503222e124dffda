"""Network namespaces: which one a process lives in, and running commands in another process's namespace."""

from __future__ import annotations

import os

from creature.errors import CreatureError
from creature.procs import which


def of_pid(pid: int | str) -> int | None:
    """The inode of pid's network namespace ("self" for this process), or None if it is gone."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def enter_argv(pid: int) -> list[str]:
    """An argv prefix that runs a command in pid's network namespace; empty when it is ours already.

    LXC's control socket and a bridge exist only in the namespace they were made in, so commands
    about them must run there even when creature itself was started elsewhere.
    """
    theirs = of_pid(pid)
    if theirs is None or theirs == of_pid("self"):
        return []
    nsenter = which("nsenter")
    if nsenter is None:
        raise CreatureError("nsenter is not installed (Debian package util-linux)")
    return [nsenter, f"--net=/proc/{pid}/ns/net", "--"]
