"""Progress of long work (debootstrap, tar, mkfs): a live line and a summary on a terminal (rich), silence in pipes."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager


class Step:
    """One piece of long work; update() is given each line of the tool's output as it comes."""

    def __init__(self, label: str, status=None):
        self.label = label
        self.lines = 0
        self._status = status

    def update(self, line: str) -> None:
        self.lines += 1
        if self._status is not None and line.strip():
            self._status.update(f"{self.label}: {line.strip()[:100]}")


@contextmanager
def progress(label: str):
    """On a terminal, show label and the latest output line while the block runs, then how long it took."""
    if not sys.stderr.isatty():
        yield Step(label)  # pipes and logs stay quiet (design: long work is silent when not on a terminal)
        return
    from rich.console import Console

    started = time.monotonic()
    console = Console(stderr=True, highlight=False)
    with console.status(label) as status:
        yield Step(label, status)
    console.print(f"{label}: done in {time.monotonic() - started:.1f} s")
