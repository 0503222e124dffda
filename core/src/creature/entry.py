"""The `creature` executable: `list` and `show` in their plain forms answered before click is imported.

Reading commands are the ones run most often, and importing click costs more than answering them. The
plain forms (`[--home DIR] list [--driver D] [--state S] [--format F]`, `[--home DIR] show NAME [--format
F]`) are parsed here and answered by the same functions the click commands call (creature.listing), so the
output is the same; anything else (help, other options, another host) goes to the full command line.
"""

from __future__ import annotations

import os
import sys

FORMATS = {"list": ("table", "json", "csv"), "show": ("table", "json")}
OPTIONS = {"list": ("--driver", "--state", "--format"), "show": ("--format",)}


def _parse(argv: list[str]) -> tuple[str | None, str, list[str], dict[str, str]] | None:
    """(home, command, arguments, options) of a plain list or show; None for anything else."""
    home, rest = None, list(argv)
    while rest and (rest[0] == "--home" or rest[0].startswith("--home=")):
        if rest[0] == "--home":
            if len(rest) < 2:
                return None
            home, rest = rest[1], rest[2:]
        else:
            home, rest = rest[0].partition("=")[2], rest[1:]
    if not rest or rest[0] not in FORMATS:
        return None
    command, words, args, options = rest[0], rest[1:], [], {}
    while words:
        word = words.pop(0)
        name, eq, value = word.partition("=")
        if name in OPTIONS[command] and name not in options:
            if not eq:
                if not words:
                    return None
                value = words.pop(0)
            options[name] = value
        elif word.startswith("-") or args:
            return None
        else:
            args.append(word)
    if len(args) != (1 if command == "show" else 0) or options.get("--format", "table") not in FORMATS[command]:
        return None
    return home, command, args, options


def _answer(home: str | None, command: str, args: list[str], options: dict[str, str]) -> None:
    from creature.home import Home
    from creature.listing import COLUMNS, list_rows, show_data, show_text
    from creature.output import emit

    root = Home(home).root
    fmt = options.get("--format", "table")
    if command == "list":
        emit(list_rows(root, driver=options.get("--driver"), state=options.get("--state")), COLUMNS, fmt)
    else:
        print(show_text(show_data(root, args[0]), fmt))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `creature` command."""
    argv = sys.argv[1:] if argv is None else argv
    plain = None if os.environ.get("CREATURE_HOST") else _parse(argv)
    if plain is not None:
        from creature.errors import CreatureError

        try:
            _answer(*plain)
        except CreatureError as exc:
            print(f"creature: error: {exc}", file=sys.stderr)
            sys.exit(exc.exit_code)
        except Exception:  # nothing was changed: the full command line says what went wrong, its way
            plain = None
        else:
            sys.exit(0)
    from creature.cli import main as full

    full(argv)
