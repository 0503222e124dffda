"""A root shell in a running guest of each driver that enforces --disk, for the quota and usage tests.

LXC has exec; every other driver's guest is reached as a user would, through `creature console`
(ConsoleSession.attach) and a root login on its busybox getty.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from creature.testing import ConsoleSession


class ExecShell:
    """Command lines through `creature exec NAME -- sh -c LINE` (drivers with exec)."""

    def __init__(self, cli, name: str):
        self.cli, self.name = cli, name

    def run(self, line: str, timeout: float = 120) -> tuple[int, str]:
        result = self.cli("exec", self.name, "--", "sh", "-c", line, timeout=timeout)
        return result.code, result.out + result.err


@contextmanager
def guest_shell(driver_caps, cli, name: str):
    """A shell in running machine name, as root, with run(line) -> (status, output): exec where the driver has it."""
    if driver_caps.exec:
        yield ExecShell(cli, name)
        return
    with ConsoleSession.attach(cli.home, name, timeout=120) as console:
        console.login(timeout=120)
        yield console


@pytest.fixture
def guest(creature_api):
    """`with guest(driver, cli, name) as shell: shell.run(line)`: a root shell in a running guest."""
    def shell(driver: str, cli, name: str):
        return guest_shell(creature_api.driver(driver).capabilities, cli, name)
    return shell
