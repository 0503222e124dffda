"""PlannedDriver: a driver whose lifecycle is its own command plan, and the helpers such drivers share.

Hypervisors driven wholly by one command-line tool (vzctl, vserver, VBoxManage, vmrun) differ in their
argv lists, their time limits and how they tell that a machine is registered or down; start, stop, kill
and destroy around those are the same. What --dry-run shows is then, by construction, what runs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from subprocess import CompletedProcess
from typing import TYPE_CHECKING, ClassVar

from creature.drivers import Check, Driver, StopResult
from creature.errors import CreatureError
from creature.procs import run, which
from creature.state import State

if TYPE_CHECKING:
    from creature.records import Machine


def tool(program: str) -> str:
    """program's path (sbin folders included), or its bare name: a plan still shows it where it is not installed."""
    return which(program) or program


def tool_check(name: str, program: str, missing: str, label: str | None = None) -> Check:
    """A probe check that program is installed; missing is the whole reason when it is not."""
    path = which(program)
    return Check(name=name, ok=path is not None, reason=f"{label or program} found at {path}" if path else missing)


def path_check(name: str, path: Path, present: str, missing: str) -> Check:
    """A probe check that a kernel interface (a /proc entry, a device node) exists, its reason led by the path."""
    if path.exists():
        return Check(name=name, ok=True, reason=f"{path} present: {present}")
    return Check(name=name, ok=False, reason=f"{path} is missing: {missing}")


def stable_id(name: str, low: int, high: int) -> int:
    """A number from low to high that depends only on name: the numeric ID a tool wants for a machine (CTID, context)."""
    import hashlib

    return low + int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % (high - low + 1)


def links_to(link: Path, target: Path) -> bool:
    """Whether link is a symbolic link to target (how a tool that reads one config folder is shown ours)."""
    return link.is_symlink() and os.path.realpath(link) == str(target)


class PlannedDriver(Driver):
    """A driver whose start, stop, kill and destroy run the argv lists of its own plans(), through creature.procs.run."""

    # Seconds the commands of each action may take (absent: no limit). "create" bounds the registration that start
    # runs; "stop" bounds the graceful request and defaults to the caller's timeout + 30 s, since tools such as
    # `vzctl stop` return only once the guest is down.
    timeouts: ClassVar[dict[str, float]] = {}

    tool = staticmethod(tool)

    def plans(self, machine: Machine) -> dict[str, list[list[str]]]:
        """Each action's argv lists: create (registration), start, stop (graceful request first), kill, destroy, state, list."""
        raise NotImplementedError

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        plans = self.plans(machine)
        if action not in plans:
            raise CreatureError(f"the {self.name} driver has no plan for {action!r}")
        return plans[action]

    def registered(self, machine: Machine) -> bool:
        """Whether the hypervisor knows machine already: start registers it first, destroy acts only when it does."""
        return True

    def registration(self, machine: Machine) -> list[list[str]]:
        """The commands start runs to register machine: its "create" plan."""
        return self.plan(machine, "create")

    def stopped(self, machine: Machine, request: CompletedProcess, timeout: float) -> bool:
        """Whether the graceful request ended machine: by default its exit status and one look at the state."""
        return request.returncode == 0 and self.state(machine) != State.RUNNING

    def wait_off(self, machine: Machine, timeout: float, up: tuple[State, ...] = (State.RUNNING,)) -> bool:
        """Poll the state until machine is in none of the up states; False when timeout passes first."""
        deadline = time.monotonic() + timeout
        while self.state(machine) in up:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return True

    def run_plan(self, machine: Machine, action: str) -> None:
        """Run each command of action's plan within timeouts[action]; a failure raises CommandFailed with its stderr."""
        for argv in self.plan(machine, action):
            run(argv, timeout=self.timeouts.get(action))

    def start(self, machine: Machine) -> None:
        if not self.registered(machine):
            for argv in self.registration(machine):
                run(argv, timeout=self.timeouts.get("create"))
        self.run_plan(machine, "start")

    def stop(self, machine: Machine, timeout: float) -> StopResult:
        # only the stop plan's first command is the request: the rest shows --dry-run the fallback that kill() runs
        request = self.plan(machine, "stop")[:1] if timeout > 0 else []
        if request:
            proc = run(request[0], check=False, timeout=self.timeouts.get("stop", timeout + 30))
            if self.stopped(machine, proc, timeout):
                return StopResult(forced=False)
        self.kill(machine)
        return StopResult(forced=True)

    def kill(self, machine: Machine) -> None:
        self.run_plan(machine, "kill")

    def destroy(self, machine: Machine) -> None:
        if self.registered(machine):
            self.run_plan(machine, "destroy")
