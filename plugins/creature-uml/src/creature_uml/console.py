"""Attaching the caller's terminal (or pipes) to a UML serial line's pty."""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty

ESCAPE = b"\x1d"  # Ctrl-]
DRAIN_SECONDS = 1.0


def attach(device: str) -> int:
    """Relay stdin to the pty and the pty to stdout until Ctrl-], the guest closing the line, or stdin's end.

    With piped input, the guest's answer to the last line sent is still relayed: the relay ends only after
    DRAIN_SECONDS without output once stdin is exhausted.
    """
    pty_fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    saved = termios.tcgetattr(stdin) if os.isatty(stdin) else None
    try:
        tty.setraw(pty_fd)
        if saved is not None:
            tty.setraw(stdin)
        input_done = None
        while True:
            watched = [pty_fd] if input_done is not None else [pty_fd, stdin]
            ready, _, _ = select.select(watched, [], [], DRAIN_SECONDS)
            if not ready:
                if input_done is not None and time.monotonic() - input_done >= DRAIN_SECONDS:
                    return 0
                continue
            if pty_fd in ready:
                try:
                    data = os.read(pty_fd, 4096)
                except OSError:  # EIO: UML closed the line (the machine stopped)
                    return 0
                if not data:
                    return 0
                os.write(stdout, data)
                if input_done is not None:
                    input_done = time.monotonic()
            if stdin in ready:
                data = os.read(stdin, 1024)
                if not data:
                    input_done = time.monotonic()
                    continue
                head, escaped, _ = data.partition(ESCAPE)
                if head:
                    os.write(pty_fd, head)
                if escaped:
                    return 0
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        os.close(pty_fd)
