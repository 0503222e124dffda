"""Attaching a terminal to a guest's serial console socket; Ctrl-] detaches and the guest keeps running."""

from __future__ import annotations

import os
import select
import socket
import sys
import termios
import tty
from pathlib import Path

from creature.sdk import CreatureError

ESCAPE = b"\x1d"  # Ctrl-], as telnet and virsh console use


def attach(path: Path, name: str) -> int:
    """Relay stdin and stdout to the console socket until Ctrl-] or end of input; return 0."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as exc:
        sock.close()
        raise CreatureError(f"cannot attach to the console of {name!r} ({path}): {exc.strerror or exc}") from None
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    saved = termios.tcgetattr(stdin) if os.isatty(stdin) else None
    try:
        if saved is not None:
            tty.setraw(stdin)
        os.write(sys.stderr.fileno(), f"creature: attached to the console of {name} (Ctrl-] detaches)\r\n".encode())
        while True:
            ready, _, _ = select.select([stdin, sock], [], [])
            if sock in ready:
                data = sock.recv(65536)
                if not data:
                    break  # QEMU exited: the guest is gone
                os.write(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 4096)
                before, escaped, _ = data.partition(ESCAPE)
                if before:
                    sock.sendall(before)
                if escaped or not data:
                    break
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        sock.close()
    os.write(sys.stderr.fileno(), f"\r\ncreature: detached from {name}; it keeps running\r\n".encode())
    return 0
