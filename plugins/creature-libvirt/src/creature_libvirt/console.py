"""The serial or container console through a libvirt stream (works the same over remote URIs)."""

from __future__ import annotations

import os
import select
import sys
import termios
import tty

from creature.sdk import CreatureError

DETACH = b"\x1d"  # Ctrl-]


def attach(connection, domain, name: str) -> int:
    """Copy the terminal to the console stream and back until Ctrl-] (or the end of stdin in a pipe)."""
    from creature_libvirt.connection import start_event_loop

    # The client reads a stream's incoming data only while an event loop runs: without one, what the guest
    # prints reaches the stream only by chance (during some other call), and a second session sees nothing.
    if start_event_loop():
        connection.reopen()  # a connection opened before the loop started is not watched by it
        domain = connection.domain(domain.UUIDString())  # the one given belongs to the closed connection
    stream = connection.call("newStream", 1)  # VIR_STREAM_NONBLOCK: polled below; the event loop fills it
    connection.call("openConsole", None, stream, 0, target=domain)
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    interactive = os.isatty(stdin)
    saved = termios.tcgetattr(stdin) if interactive else None
    if interactive:
        print(f"creature: attached to the console of {name} (Ctrl-] detaches)", file=sys.stderr)
        tty.setraw(stdin)
    try:
        Pump(stream, stdin, stdout).run()
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        try:
            connection.call("finish", target=stream)
        except CreatureError:  # the guest may have closed it first; detaching must still succeed
            pass
    return 0


class Pump:
    """Copies between a non-blocking libvirt stream and two file descriptors."""

    def __init__(self, stream, stdin: int, stdout: int):
        self.stream, self.stdin, self.stdout = stream, stdin, stdout

    def run(self) -> None:
        stdin_open = True
        quiet_rounds = 0
        while True:
            got = self._drain()
            readable, _, _ = select.select([self.stdin] if stdin_open else [], [], [], 0.05)
            if readable:
                data = os.read(self.stdin, 4096)
                if not data:
                    stdin_open = False  # a pipe ended: keep showing output for a moment, then leave
                elif DETACH in data:
                    self._send(data.split(DETACH, 1)[0])
                    return
                else:
                    self._send(data)
            if not stdin_open:
                quiet_rounds = 0 if got else quiet_rounds + 1
                if quiet_rounds > 20:
                    return

    def _send(self, data: bytes) -> None:
        while data:
            sent = self.stream.send(data)
            if sent == -2:  # would block: the guest reads slower than we type
                select.select([], [], [], 0.01)
                continue
            data = data[sent:]

    def _drain(self) -> bool:
        got = False
        while True:
            data = self._recv()
            if not data:
                return got
            os.write(self.stdout, data)
            got = True

    def _recv(self) -> bytes | None:
        import libvirt

        try:
            data = self.stream.recv(4096)
        except libvirt.libvirtError:
            return None  # the console closed (the guest stopped)
        return data if isinstance(data, bytes) and data else None  # -2 means nothing to read yet
