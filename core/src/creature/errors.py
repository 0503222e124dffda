"""The errors creature reports: one line each, with an exit code that says whose fault it was."""

from __future__ import annotations


class CreatureError(Exception):
    """An operation failed; reported as one line, exit code 1."""

    exit_code = 1


class InputError(CreatureError):
    """The request itself is wrong (bad value, unknown name); exit code 2, nothing changed."""

    exit_code = 2


class NotFound(InputError):
    """A machine, template, driver or network that does not exist was named."""


class CommandFailed(CreatureError):
    """An external command exited non-zero; carries its stderr (what names it in the message, argv[0] by default)."""

    def __init__(self, argv: list[str], returncode: int, stderr: str, what: str | None = None):
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        # tools name the cause first and add advice or a summary last: keep both ends
        detail = " | ".join(lines if len(lines) <= 4 else [lines[0], "...", *lines[-3:]])
        super().__init__(
            f"{what or argv[0]} failed (exit {returncode})" + (f": {detail}" if detail else "")
        )


def error_line(exc: BaseException) -> str:
    """What the command line says of an error that is not a CreatureError (a host's trouble, or a bug)."""
    import sqlite3

    if isinstance(exc, OSError) and exc.strerror:
        # a full disk or a vanished folder is the host's trouble, not a bug: say what and where
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    if isinstance(exc, sqlite3.Error):
        return f"inventory: {exc} (see `creature doctor`)"
    return f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)"
