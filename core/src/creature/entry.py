"""The `creature` executable: plain forms of the everyday commands first (creature.builtin.commands.plain,
without click), then the full command line (creature.cli)."""

from __future__ import annotations

import os
import sys


def _exit(code: int, fast: bool) -> None:
    """Exit with code; fast skips the interpreter's teardown (~8 ms of a 60 ms `destroy`) once the output is out.

    Safe for the plain forms: they commit every inventory change and close it first, start no thread that is not
    a daemon and register nothing with atexit. Embedding programs and tests call main(argv), which exits normally.
    """
    if not fast:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # the reader went away (`creature list | head -1`): nothing left to tell it
    os._exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `creature` command."""
    fast = argv is None
    argv = sys.argv[1:] if argv is None else argv
    if not os.environ.get("CREATURE_HOST"):
        from creature.builtin.commands.plain import answer

        code = answer(argv)
        if code is not None:
            _exit(code, fast)
    from creature.cli import main as full

    full(argv)
