"""A minimal QMP client: one short session per request, because a QMP socket serves one client at a time.

Also runnable, `python -m creature_qemu.qmp SOCKET COMMAND`, which is what --dry-run shows for stop.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

from creature.sdk import CreatureError


class QmpError(CreatureError):
    """QEMU's monitor could not be reached or refused a command."""


class Qmp:
    """One QMP session on a unix socket; use as a context manager."""

    def __init__(self, path: Path, timeout: float = 5.0):
        self.path = path
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.events: list[dict] = []

    def __enter__(self) -> Qmp:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
            self.sock = sock
            self._message()  # the greeting; another client holding the socket delays it until it leaves
            self.execute("qmp_capabilities")
        except (OSError, ValueError) as exc:
            sock.close()
            self.sock = None
            raise QmpError(f"QMP socket {self.path}: {exc}") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _message(self) -> dict:
        assert self.sock is not None
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("QEMU closed the monitor connection")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def execute(self, command: str, **arguments) -> object:
        """Run one command and return its result; events that arrive meanwhile are kept in self.events."""
        assert self.sock is not None
        request = {"execute": command, **({"arguments": arguments} if arguments else {})}
        try:
            self.sock.sendall(json.dumps(request).encode() + b"\n")
            while True:
                reply = self._message()
                if "event" in reply:
                    self.events.append(reply)
                    continue
                if "error" in reply:
                    raise QmpError(f"QMP {command}: {reply['error'].get('desc', reply['error'])}")
                return reply.get("return")
        except (OSError, ValueError) as exc:
            if command == "quit" and isinstance(exc, ConnectionResetError):
                return {}  # QEMU may close the socket before answering quit
            raise QmpError(f"QMP {command} on {self.path}: {exc}") from None


def execute(path: Path, command: str, timeout: float = 5.0, **arguments) -> object:
    """Open a session, run one command, close."""
    with Qmp(path, timeout) as qmp:
        return qmp.execute(command, **arguments)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m creature_qemu.qmp SOCKET COMMAND", file=sys.stderr)
        return 2
    try:
        result = execute(Path(argv[0]), argv[1])
    except QmpError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
