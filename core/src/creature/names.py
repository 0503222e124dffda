"""Names and addresses as creature accepts them: machine, template, network and host names; MAC addresses."""

from __future__ import annotations

import re
from typing import Any

from creature.errors import InputError

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")


def check_name(kind: str, value: Any) -> str:
    """Return value if it is a valid name (a DNS label: it becomes a hostname and a folder name)."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        shown = repr(value) if not isinstance(value, str) or len(value) <= 40 else repr(value[:40] + "...")
        raise InputError(
            f"invalid {kind} name {shown}: use 1-63 lowercase letters, digits and '-',"
            " starting and ending with a letter or digit"
        )
    return value
