"""Running external commands (never through a shell) and telling whether a process is still ours."""

from __future__ import annotations

import os
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path

from creature.errors import CommandFailed, CreatureError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import subprocess


def run(
    argv: list[str],
    *,
    check: bool = True,
    timeout: float | None = None,
    input: str | None = None,
    capture: bool = True,
    env: dict[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    cwd: Path | str | None = None,
) -> subprocess.CompletedProcess:
    """Run argv without a shell (in cwd, if given); a failure raises CommandFailed with the command's stderr.

    on_line, when given, is called with each line of output as it comes (for progress displays).
    """
    import subprocess  # here, not at the top: listing imports this module only for ProcessRecord

    argv = [str(a) for a in argv]
    if on_line is not None:
        return _run_streaming(argv, check=check, timeout=timeout, env=env, on_line=on_line, cwd=cwd)
    try:
        proc = subprocess.run(
            argv,
            input=input,
            capture_output=capture,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise CreatureError(f"{argv[0]} is not installed (not found on PATH)") from None
    except subprocess.TimeoutExpired as exc:
        raise CreatureError(f"{argv[0]} did not finish within {timeout:g} s") from exc
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode, proc.stderr or proc.stdout or "")
    return proc


def _run_streaming(argv: list[str], *, check: bool, timeout: float | None, env: dict[str, str] | None,
                   on_line: Callable[[str], None], cwd: Path | str | None = None) -> subprocess.CompletedProcess:
    # stderr is merged into stdout so progress sees every line in order; a failure reports the tail
    import subprocess
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, errors="replace", cwd=cwd)
    except FileNotFoundError:
        raise CreatureError(f"{argv[0]} is not installed (not found on PATH)") from None
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            del lines[:-200]
            on_line(line.rstrip("\n"))
            if deadline is not None and time.monotonic() > deadline:
                raise CreatureError(f"{argv[0]} did not finish within {timeout:g} s")
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "".join(lines)
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode, output)
    return subprocess.CompletedProcess(argv, proc.returncode, output, output)


def which(program: str) -> str | None:
    """Path of program on PATH, also looking in the sbin folders a non-login root shell may miss."""
    # shutil.which's search, without importing shutil (with bz2 and lzma: 1.5 ms of every `list`)
    if os.sep in program:
        return program if os.access(program, os.X_OK) and not os.path.isdir(program) else None
    for folder in (os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin").split(os.pathsep):
        path = os.path.join(folder, program)
        if folder and os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return None


# a named tuple, not a dataclass: `list` and `show` read records, and dataclasses (with inspect) would cost them 8 ms
class ProcessRecord(namedtuple("ProcessRecord", ("pid", "start_time", "cmdline"))):
    """A process pinned by pid, kernel start time and command line, so a reused pid never matches."""

    __slots__ = ()
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
        """True only if the same process (pid, start time, command line) still runs.

        An empty command line with the same pid and start time is the same process inside execve (between
        its new memory and its new arguments): a process re-executing itself must not look dead then.
        """
        now = ProcessRecord.of(self.pid)
        return now is not None and now.start_time == self.start_time and now.cmdline in (self.cmdline, "")

    def to_dict(self) -> dict:
        return dict(self._asdict())

    @classmethod
    def from_dict(cls, data: dict | None) -> ProcessRecord | None:
        if not data:
            return None
        return cls(int(data["pid"]), int(data["start_time"]), str(data["cmdline"]))
