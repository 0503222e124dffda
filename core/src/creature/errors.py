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
    """An external command exited non-zero; carries its stderr."""

    def __init__(self, argv: list[str], returncode: int, stderr: str):
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        detail = " | ".join(line.strip() for line in stderr.strip().splitlines()[-3:] if line.strip())
        super().__init__(
            f"{argv[0]} failed (exit {returncode})" + (f": {detail}" if detail else "")
        )
