"""Acting on several machines at once (start, stop, kill, destroy): choosing them and going through them, without click."""

from __future__ import annotations

import sys

from creature.errors import CreatureError, InputError

# the states a command acts on with --all
WANT = {"start": {"stopped", "crashed"}, "stop": {"running", "paused"}, "kill": {"running", "paused"}}


def targets(creature, names: tuple[str, ...], all_: bool, want: set[str]) -> list[str]:
    """The machines a command acts on: the names given (each must exist first), or with all_ every one in a state of want."""
    if names and all_:
        raise InputError("give machine names or --all, not both")
    if not names and not all_:
        raise InputError("name at least one machine, or --all")
    if all_:
        return [i.name for i in creature.list_machines() if i.state.value in want]
    for n in names:
        creature.machine(n)  # every name must exist before anything is done
    return list(names)


def each(names: list[str], action) -> int:
    """Run action on each name; with several, a failure is reported and the rest still run (exit: the worst code)."""
    code = 0
    for n in names:
        try:
            action(n)
        except CreatureError as exc:
            if len(names) == 1:
                raise
            print(f"creature: error: {exc}", file=sys.stderr)
            code = max(code, exc.exit_code)
    return code


def act(creature, command: str, names: tuple[str, ...], all_: bool = False, force: bool = False, timeout: float = 30.0) -> int:
    """start, kill, stop or destroy machines: what those commands do, for click and for creature.entry alike."""
    if command == "destroy":
        chosen = targets(creature, tuple(dict.fromkeys(names)), False, set())  # a mistyped name destroys nothing
        return each(chosen, lambda n: creature.destroy(n, force=force))
    chosen = targets(creature, names, all_, WANT[command])
    if command != "stop":
        return each(chosen, getattr(creature, command))

    def one(n):
        if creature.stop(n, timeout).forced:
            print(f"machine {n} did not shut down within {timeout:g} s and was forced off", file=sys.stderr)
    return each(chosen, one)
