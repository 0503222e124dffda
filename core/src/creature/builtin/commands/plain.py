"""The plain forms of the everyday commands, answered before click is imported (creature.entry asks here first).

They are the commands run most often, and importing click costs more than answering `show` (and a fifth of
a QEMU boot). The plain forms (`[--home DIR] list [--driver D] [--state S] [--format F]`, `show NAME
[--format F]`, `start|kill NAME...`, `stop NAME... [--timeout S]`, `destroy NAME... [--force]`) are parsed
here and done by the same functions the click commands call (creature.builtin.commands: listing, actions),
so the effect and output are the same; anything else (help, --all, --dry-run, other options, another host)
goes to the full command line.
"""

from __future__ import annotations

import math
import sys

FORMATS = {"list": ("table", "json", "csv"), "show": ("table", "json")}
# the options each plain form takes: a value, or (None) a flag
OPTIONS = {"list": {"--driver": str, "--state": str, "--format": str}, "show": {"--format": str}, "start": {},
           "kill": {}, "stop": {"--timeout": float}, "destroy": {"--force": None}}
ARGUMENTS = {"list": (0, 0), "show": (1, 1), "start": (1, 64), "kill": (1, 64), "stop": (1, 64), "destroy": (1, 64)}
# a command that may have changed something reports its own unexpected error; a read hands it to click
ACTIONS = ("start", "kill", "stop", "destroy")


def _parse(argv: list[str]) -> tuple[str | None, str, list[str], dict] | None:
    """(home, command, arguments, options) of a plain form; None for anything else."""
    home, rest = None, list(argv)
    while rest and (rest[0] == "--home" or rest[0].startswith("--home=")):
        if rest[0] == "--home":
            if len(rest) < 2:
                return None
            home, rest = rest[1], rest[2:]
        else:
            home, rest = rest[0].partition("=")[2], rest[1:]
    if not rest or rest[0] not in OPTIONS:
        return None
    command, words, args, options = rest[0], rest[1:], [], {}
    takes = OPTIONS[command]
    while words:
        word = words.pop(0)
        name, eq, value = word.partition("=")
        if name in takes and name not in options:
            if takes[name] is None:
                if eq:
                    return None
                options[name] = True
                continue
            if not eq:
                if not words:
                    return None
                value = words.pop(0)
            try:
                options[name] = takes[name](value)
            except ValueError:
                return None
        elif word.startswith("-") or (args and command not in ACTIONS):
            return None
        else:
            args.append(word)
    low, high = ARGUMENTS[command]
    if not low <= len(args) <= high or options.get("--format", "table") not in FORMATS.get(command, ("table",)):
        return None
    if not math.isfinite(options.get("--timeout", 0.0)) or options.get("--timeout", 0.0) < 0:
        return None
    return home, command, args, options


def _answer(home: str | None, command: str, args: list[str], options: dict) -> int:
    from creature.home import Home

    root = Home(home).root
    fmt = options.get("--format", "table")
    if command == "list":
        from creature.builtin.commands.listing import COLUMNS, list_rows
        from creature.builtin.support.output import emit

        emit(list_rows(root, driver=options.get("--driver"), state=options.get("--state")), COLUMNS, fmt)
    elif command == "show":
        from creature.builtin.commands.listing import show_data, show_text

        print(show_text(show_data(root, args[0]), fmt))
    else:
        from creature.api import Creature
        from creature.builtin.commands.actions import act

        api = Creature(root)
        try:
            return act(api, command, tuple(args), force=options.get("--force", False), timeout=options.get("--timeout", 30.0))
        finally:
            api.inventory.close()  # the last connection folds SQLite's write-ahead log into inventory.sqlite
    return 0


def answer(argv: list[str]) -> int | None:
    """The exit status of argv answered as a plain form; None when the full command line must answer it."""
    plain = _parse(argv)
    if plain is None:
        return None
    from creature.errors import CreatureError

    try:
        return _answer(*plain)
    except CreatureError as exc:
        print(f"creature: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("creature: error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1  # the reader went away (`creature list | head -1`): nothing to say, as click does
    except Exception as exc:
        if plain[1] not in ACTIONS:
            return None  # a read changed nothing: the full command line says what went wrong, its way
        from creature.errors import error_line

        print(f"creature: error: {error_line(exc)}", file=sys.stderr)  # something may have changed: one line
        return 1
