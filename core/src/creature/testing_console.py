"""A root shell on a guest's serial console, for tests of drivers whose guests have no exec (part of creature.testing)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
import tty
from pathlib import Path

CURSOR_QUERY = b"\x1b[6n"
CONSOLE_ESCAPE = b"\x1d"  # Ctrl-], which detaches `creature console`


class ConsoleSession:
    """A root shell on a guest's console (busybox templates have no root password), for guests without exec.

    Open it on a terminal device with open(), or through `creature console NAME` with attach(), which works for
    every driver with a console; then login() and run() command lines:

        with ConsoleSession.attach(home, "vm1") as console:
            console.login()
            status, output = console.run("ping -c 1 10.0.0.1")
    """

    def __init__(self, fd: int, child: subprocess.Popen | None = None):
        self.fd = fd
        self.child = child
        self.seen = b""

    @classmethod
    def open(cls, device: str) -> ConsoleSession:
        """The console on a terminal device (such as the host pty UML gives a guest's tty)."""
        fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        return cls(fd)

    @classmethod
    def attach(cls, home: Path, name: str, timeout: float = 60) -> ConsoleSession:
        """The console through `creature console NAME`, run on a pty as a user would."""
        master, slave = os.openpty()
        # raw before the child starts: a cooked pty would echo and translate what is typed before it sets raw mode itself
        tty.setraw(slave)
        try:
            child = subprocess.Popen([sys.executable, "-m", "creature", "--home", str(home), "console", name],
                                     stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        session = cls(master, child)
        try:
            session.expect(b"Ctrl-] detaches", timeout)
        except BaseException:
            session.close()
            raise
        return session

    def __enter__(self) -> ConsoleSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Detach (the guest keeps running) and close the channel; a `creature console` that does not end is killed."""
        try:
            if self.child is not None and self.child.poll() is None:
                try:
                    os.write(self.fd, CONSOLE_ESCAPE)
                    self.child.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    self.child.kill()
                    self.child.wait()
        finally:
            os.close(self.fd)

    def expect(self, needle: bytes, timeout: float) -> bytes:
        """Read until needle; return what came before it (what came after is kept for the next expect)."""
        return self.expect_any((needle,), timeout)[1]

    def expect_any(self, needles: tuple[bytes, ...], timeout: float) -> tuple[bytes, bytes]:
        """Read until one of needles; return the one that came first and what came before it."""
        deadline = time.monotonic() + timeout
        while not any(n in self.seen for n in needles):
            left = deadline - time.monotonic()
            if left <= 0:
                wanted = " or ".join(map(repr, needles))
                raise TimeoutError(f"no {wanted} on the console within {timeout:g} s; last output: {self.seen[-500:]!r}")
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if not ready:
                continue
            try:
                data = os.read(self.fd, 4096)
            except OSError:  # EIO: the pty's other side is gone
                data = b""
            if not data:
                raise EOFError(f"the console closed; last output: {self.seen[-500:]!r}")
            if CURSOR_QUERY in data:  # busybox ash asks where the cursor is and waits for the answer
                os.write(self.fd, b"\x1b[1;1R")
                data = data.replace(CURSOR_QUERY, b"")
            self.seen += data
        needle = min((n for n in needles if n in self.seen), key=self.seen.index)
        before, _, self.seen = self.seen.partition(needle)
        return needle, before

    def prompt_login(self, timeout: float = 30, shell_too: bool = False) -> bytes:
        """Press return until a getty asks for a login (or, with shell_too, a shell prompts); return which."""
        deadline = time.monotonic() + timeout
        wanted = (b"login:", b"# ") if shell_too else (b"login:",)
        while True:
            os.write(self.fd, b"\r")
            try:
                # a getty that is still starting misses a return: press it again every couple of seconds
                return self.expect_any(wanted, min(2.0, max(0.1, deadline - time.monotonic())))[0]
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def login(self, timeout: float = 30) -> None:
        """Log in as root, or reuse the shell a previous session left logged in."""
        if self.prompt_login(timeout, shell_too=True) == b"login:":
            os.write(self.fd, b"root\r")
            self.expect(b"# ", timeout)
        self.run("true", timeout)

    def run(self, shell: str, timeout: float = 20) -> tuple[int, str]:
        """Run a shell command line; return its exit status and output (markers split it from the echo and the prompt)."""
        tag = os.urandom(4).hex()
        # the marker is built by the guest's shell, so the echoed command line never matches it
        os.write(self.fd, f"{shell}; echo END-$((0x{tag}))-$?\r".encode())
        marker = f"END-{int(tag, 16)}-".encode()
        out = self.expect(marker, timeout)
        status = int(self.expect(b"\n", timeout).strip())
        text = out.decode(errors="replace").replace("\r", "")
        # the echo of the command line comes first, at times twice (the tty echoes it before ash redraws it after its
        # prompt): drop through the last one
        echoed = f"END-$((0x{tag}))-$?"
        return status, text.rpartition(echoed)[2].partition("\n")[2] if echoed in text else text.split("\n", 1)[-1]
