"""The `creature` executable: `list`, `show` and `start` in their plain forms answered before click is imported.

They are the commands run most often, and importing click costs more than answering `show` (and a fifth of
a QEMU boot). The plain forms (`[--home DIR] list [--driver D] [--state S] [--format F]`, `show NAME
[--format F]`, `start NAME...`) are parsed here and done by the same functions the click commands call
(creature.builtin.commands: listing, actions), so the effect and output are the same; anything else
(help, other options, another host) goes to the full command line.
"""

from __future__ import annotations

import os
import sys

FORMATS = {"list": ("table", "json", "csv"), "show": ("table", "json"), "start": ("table",)}
OPTIONS = {"list": ("--driver", "--state", "--format"), "show": ("--format",), "start": ()}


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
        elif word.startswith("-") or (args and command != "start"):
            return None
        else:
            args.append(word)
    wanted = {"list": (0, 0), "show": (1, 1), "start": (1, 64)}[command]
    if not wanted[0] <= len(args) <= wanted[1] or options.get("--format", "table") not in FORMATS[command]:
        return None
    return home, command, args, options


def _answer(home: str | None, command: str, args: list[str], options: dict[str, str]) -> int:
    from creature.home import Home

    root = Home(home).root
    fmt = options.get("--format", "table")
    if command == "list":
        from creature.builtin.commands.listing import COLUMNS, list_rows
        from creature.output import emit

        emit(list_rows(root, driver=options.get("--driver"), state=options.get("--state")), COLUMNS, fmt)
    elif command == "show":
        from creature.builtin.commands.listing import show_data, show_text

        print(show_text(show_data(root, args[0]), fmt))
    else:
        from creature.api import Creature
        from creature.builtin.commands.actions import each, targets

        creature = Creature(root)
        return each(targets(creature, tuple(args), False, {"stopped", "crashed"}), creature.start)
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `creature` command."""
    argv = sys.argv[1:] if argv is None else argv
    plain = None if os.environ.get("CREATURE_HOST") else _parse(argv)
    if plain is not None:
        from creature.errors import CreatureError

        try:
            code = _answer(*plain)
        except CreatureError as exc:
            print(f"creature: error: {exc}", file=sys.stderr)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            print("creature: error: interrupted", file=sys.stderr)
            sys.exit(130)
        except Exception as exc:
            if plain[1] == "start":  # something may have changed: said in one line, not repeated
                from creature.errors import error_line

                print(f"creature: error: {error_line(exc)}", file=sys.stderr)
                sys.exit(1)
            plain = None  # a read changed nothing: the full command line says what went wrong, its way
        else:
            sys.exit(code)
    from creature.cli import main as full

    full(argv)
