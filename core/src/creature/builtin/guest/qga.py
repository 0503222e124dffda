"""exec through a guest agent: qemu-ga's protocol (guest-exec, guest-exec-status) over any channel to the guest.

The guest side is the guest's own qemu-ga or creature's agent (creature.builtin.guest.agent); the channel is
a pair of FIFOs a hypervisor connects to the guest's port (QEMU's pipe chardev on a virtio-serial port, UML's
fd: channel on a serial line: FifoChannel) or libvirt's agent API (the libvirt driver's own channel). Input,
output and exit status behave like lxc-attach's with a pipe: what stdin holds (read to its end unless it is a
terminal) is the command's input; its output comes out on creature's stdout and stderr once it has ended.
"""

from __future__ import annotations

import json
import os
import select
import stat
import sys
import time
from pathlib import Path

from creature.errors import CreatureError
from creature.home import file_lock

AGENT_PORT = "org.qemu.guest_agent.0"  # the virtio-serial port name qemu-ga and libvirt look for
AGENT_WAIT = 60.0  # how long exec waits for a booting guest's agent to answer
REQUEST_TIMEOUT = 15.0
DELIMITER = b"\xff"


class AgentUnavailable(CreatureError):
    """Nothing answered on the agent channel (no agent yet, or none at all): nothing was run."""


class AgentError(CreatureError):
    """The agent answered a request with an error."""


class FifoChannel:
    """qemu-ga's protocol over DIR/agent.in (to the guest) and DIR/agent.out (from it), FIFOs the hypervisor holds open.

    Each request is preceded by guest-sync-delimited with a fresh id: whatever an earlier client left unread
    in the FIFO is skipped, and a lock on DIR/agent.lock keeps concurrent clients' requests apart.
    """

    def __init__(self, base: Path, what: str = "agent channel"):
        self.base = base
        self.what = what
        self.buffer = b""

    def make(self) -> None:
        """Make the two FIFOs (0600) before the hypervisor starts and opens them (anything else by their names goes)."""
        for fifo in (self.to_guest, self.from_guest):
            if fifo.is_symlink() or (fifo.exists() and not stat.S_ISFIFO(fifo.stat().st_mode)):
                fifo.unlink()  # a plain file that `<>` made when a plan ran by hand before any start
            if not fifo.exists():
                os.mkfifo(fifo, 0o600)

    @property
    def to_guest(self) -> Path:
        return self.base.with_name(self.base.name + ".in")

    @property
    def from_guest(self) -> Path:
        return self.base.with_name(self.base.name + ".out")

    def _open(self) -> tuple[int, int]:
        try:
            reader = os.open(self.from_guest, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            raise AgentUnavailable(f"no {self.what} ({self.from_guest} is missing: start the machine again)") from None
        try:
            # ENXIO: no hypervisor holds the FIFO open for reading
            writer = os.open(self.to_guest, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            os.close(reader)
            raise AgentUnavailable(f"no {self.what}: {exc.strerror}") from None
        return reader, writer

    def _line(self, reader: int, deadline: float) -> bytes:
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([reader], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(reader, 1 << 16)
            if chunk:
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def _send(self, writer: int, request: dict, deadline: float) -> None:
        data = json.dumps(request).encode() + b"\n"
        while data:
            if time.monotonic() > deadline:
                raise TimeoutError
            try:
                data = data[os.write(writer, data):]
            except BlockingIOError:
                select.select([], [writer], [], 0.1)

    def command(self, request: dict, timeout: float = REQUEST_TIMEOUT):
        """The "return" of one request; AgentUnavailable when nothing answers the sync (the request was not sent)."""
        with file_lock(self.base.with_name(self.base.name + ".lock")):
            reader, writer = self._open()
            try:
                self.buffer = b""
                import secrets  # here: the drivers import this module for AGENT_PORT at every start

                token = secrets.randbelow(1 << 31)
                deadline = time.monotonic() + min(timeout, 3.0)
                try:
                    self._send(writer, {"execute": "guest-sync-delimited", "arguments": {"id": token}}, deadline)
                    while True:
                        line = self._line(reader, deadline)
                        if DELIMITER in line and _answer(line.rpartition(DELIMITER)[2]).get("return") == token:
                            break
                except TimeoutError:
                    raise AgentUnavailable(f"no guest agent answered on the {self.what}") from None
                deadline = time.monotonic() + timeout
                try:
                    self._send(writer, request, deadline)
                    reply = _answer(self._line(reader, deadline))
                except TimeoutError:
                    raise AgentError(f"the guest agent did not answer {request['execute']} within {timeout:g} s") from None
            finally:
                os.close(reader)
                os.close(writer)
        return result(reply, request["execute"])


def _answer(line: bytes) -> dict:
    try:
        value = json.loads(line.decode(errors="replace"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def result(reply: dict, command: str):
    """The "return" of an agent's reply, or AgentError with its description."""
    if "error" in reply:
        error = reply["error"] or {}
        raise AgentError(f"the guest agent refused {command}: {error.get('desc') or error.get('class') or error}")
    if "return" not in reply:
        raise AgentError(f"the guest agent gave no answer to {command}")
    return reply["return"]


def read_input() -> bytes:
    """What the command gets on its stdin: creature's stdin read to its end, or nothing from a terminal."""
    try:
        if os.isatty(0):
            return b""
        chunks = []
        while chunk := os.read(0, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:  # no stdin at all
        return b""


def _write(fd: int, data: bytes, stream) -> None:
    stream.flush()
    while data:
        data = data[os.write(fd, data):]


def guest_exec(channel, argv: list[str], wait: float = AGENT_WAIT, stdin: bytes | None = None) -> int:
    """Run argv in the guest through channel (.command(request, timeout) -> return value); its exit status.

    A guest still booting has no agent yet: guest-exec is tried again until wait has passed, which it may
    be safely, since nothing ran while the agent did not answer.
    """
    import base64  # here, like secrets: not every importer of this module runs commands

    data = read_input() if stdin is None else stdin
    request = {"execute": "guest-exec", "arguments": {
        "path": argv[0], "arg": list(argv[1:]), "input-data": base64.b64encode(data).decode(), "capture-output": True}}
    deadline = time.monotonic() + wait
    while True:
        try:
            pid = channel.command(request)["pid"]
            break
        except AgentUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    delay = 0.01
    while True:
        status = channel.command({"execute": "guest-exec-status", "arguments": {"pid": pid}})
        if status.get("exited"):
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    _write(1, base64.b64decode(status.get("out-data") or ""), sys.stdout)
    _write(2, base64.b64decode(status.get("err-data") or ""), sys.stderr)
    if status.get("signal") is not None:
        return 128 + int(status["signal"])
    return int(status.get("exitcode", 0))
