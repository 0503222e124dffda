"""Command-line values shared by commands of several plugins."""

from __future__ import annotations

from creature.errors import InputError


def key_values(items: tuple[str, ...]) -> dict[str, str]:
    """Repeated --option KEY=VALUE as a dict (a key given twice keeps the last value)."""
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--option wants KEY=VALUE, got {item!r}")
        parsed[key] = value
    return parsed
