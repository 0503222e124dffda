"""Named points inside long operations where tests inject a crash (CREATURE_CRASH_AT=create.files)."""

from __future__ import annotations

import os
import signal


def checkpoint(name: str) -> None:
    """Die here with SIGKILL if CREATURE_CRASH_AT names this point: how crash safety is tested."""
    if os.environ.get("CREATURE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
