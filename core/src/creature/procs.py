"""Running external commands (never through a shell) and telling whether a process is still ours."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from creature.errors import CommandFailed, CreatureError


def run(
    argv: list[str],
    *,
    check: bool = True,
    timeout: float | None = None,
    input: str | None = None,
    capture: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run argv without a shell; a failure raises CommandFailed with the command's stderr."""
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.run(
            argv,
            input=input,
            capture_output=capture,
            text=True,
            timeout=timeout,
            env=env,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise CreatureError(f"{argv[0]} is not installed (not found on PATH)") from None
    except subprocess.TimeoutExpired as exc:
        raise CreatureError(f"{argv[0]} did not finish within {timeout:g} s") from exc
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode, proc.stderr or proc.stdout or "")
    return proc


def which(program: str) -> str | None:
    """Path of program on PATH, also looking in the sbin folders a non-login root shell may miss."""
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    return shutil.which(program, path=path)


@dataclass(frozen=True)
class ProcessRecord:
    """A process pinned by pid, kernel start time and command line, so a reused pid never matches."""

    pid: int
    start_time: int
    cmdline: str

    @classmethod
    def of(cls, pid: int) -> ProcessRecord | None:
        """The record of a live process, or None when there is no such process."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return None
        # comm may contain spaces and parentheses: the fields we need follow the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            return None
        return cls(pid, int(fields[19]), cmdline.replace(b"\0", b" ").decode(errors="replace").strip())

    def alive(self) -> bool:
        """True only if the same process (pid, start time, command line) still runs."""
        return ProcessRecord.of(self.pid) == self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> ProcessRecord | None:
        if not data:
            return None
        return cls(int(data["pid"]), int(data["start_time"]), str(data["cmdline"]))
