"""A machine's state: its own small module so listing and the drivers' state functions import no pydantic."""

from enum import StrEnum


class State(StrEnum):
    """A machine's state as every driver reports it."""

    RUNNING = "running"
    STOPPED = "stopped"
    PAUSED = "paused"
    CRASHED = "crashed"
    UNKNOWN = "unknown"


def check_state(state: str | None) -> None:
    """Refuse a --state filter that is not a state."""
    if state is not None and state not in {s.value for s in State}:
        from creature.errors import InputError

        raise InputError(f"unknown state {state!r} (known: {', '.join(s.value for s in State)})")


# states in which a machine runs: it has addresses to look up, and stop and kill apply
ADDRESSED = (State.RUNNING, State.PAUSED)
