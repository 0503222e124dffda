"""Host up and host down: autostart machines in order at boot, stop every machine in reverse order at shutdown."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from typing import TYPE_CHECKING

from creature.errors import CreatureError
from creature.records import Machine, MachineInfo, MachineSpec
from creature.state import State

if TYPE_CHECKING:
    from creature.api import Creature

def set_autostart(api: Creature, name: str, on: bool, order: int | None = None, delay: float | None = None) -> MachineInfo:
    """Mark a machine to start (or not) at `host up`, with its order and the delay after it starts."""
    from creature.drivers import require

    machine = api.machine(name)
    if on:
        require(api.driver(machine.driver), "autostart", "autostart")
    update = {"autostart": on} | ({"autostart_order": order} if order is not None else {}) | (
        {"autostart_delay": delay} if delay is not None else {})
    with api.home.lock("machine", name):
        machine = api.machine(name)
        spec = machine.spec = MachineSpec.parse(machine.spec.to_dict() | update)  # operator input: validated
        api.inventory.update_machine(machine)
    api.inventory.add_event(name, "autostart", f"{'on' if on else 'off'} order={spec.autostart_order} delay={spec.autostart_delay:g}")
    return api.info(name)


# host_state key: the machines that were running when host down began.
RUNNING_AT_DOWN = "host-down.running"
LIFECYCLE_EVENTS = ("started", "stopped", "killed")
MAX_PARALLEL = 16


class Progress:
    """Told what host up and host down are doing; the command line draws it, the API default stays silent."""

    def begin(self, action: str, total: int) -> None:
        pass

    def working(self, name: str, what: str) -> None:
        pass

    def finished(self, name: str, outcome: str) -> None:
        pass

    def waiting(self, seconds: float, why: str) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass
class HostReport:
    """What host up or host down did to each machine: started, running, stopped, forced, skipped or failed."""

    action: str
    outcomes: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    networks: dict[str, str | None] = field(default_factory=dict)
    seconds: float = 0

    def names(self, outcome: str) -> list[str]:
        return sorted(n for n, o in self.outcomes.items() if o == outcome)

    @property
    def network_errors(self) -> dict[str, str]:
        return {n: e for n, e in self.networks.items() if e}

    @property
    def ok(self) -> bool:
        """False when a machine or network failed, or a machine had to be forced off."""
        return not self.names("failed") and not self.names("forced") and not self.network_errors

    def summary(self) -> str:
        order = ("started", "running", "stopped", "forced", "skipped", "failed")
        words = {"running": "already running"}
        counts = [f"{len(self.names(o))} {words.get(o, o)}" for o in order if self.names(o)]
        if self.networks:
            verb = "up" if self.action == "up" else "stopped"
            bad = len(self.network_errors)
            counts.append(f"{len(self.networks) - bad} network(s) {verb}" + (f", {bad} failed" if bad else ""))
        return f"host {self.action}: {', '.join(counts) or 'nothing to do'} in {self.seconds:.2f} s"


def _order(machine: Machine) -> int:
    return machine.spec.autostart_order


def waves(machines: list[Machine], reverse: bool = False) -> list[list[Machine]]:
    """Machines grouped by autostart order, ascending (descending with reverse); one group runs in parallel."""
    ordered = sorted(machines, key=lambda m: (_order(m), m.name), reverse=reverse)
    return [list(group) for _key, group in groupby(ordered, key=_order)]


def restore_set(api: Creature) -> set[str]:
    """Machines to bring back with --restore: those host down found running, and those whose
    last lifecycle event is a start (they were running when the host went away without host down)."""
    recorded = set(api.inventory.host_value(RUNNING_AT_DOWN) or [])
    unclean = {n for n, e in api.inventory.last_events(LIFECYCLE_EVENTS).items() if e == "started"}
    return recorded | unclean


def networks_up(api: Creature) -> dict[str, str | None]:
    """Host up's first step: every creature network's bridge and dnsmasq, before any machine needs them.

    Returns network name -> None, or the error that kept it down."""
    return api.networks.up_all()


def networks_down(api: Creature) -> dict[str, str | None]:
    """Host down's last step, once every machine is off: stop each network's dnsmasq (bridges stay)."""
    results: dict[str, str | None] = {}
    for network in api.networks.list():
        if network.external or not network.dhcp:
            continue
        try:
            with api.home.lock("network", network.name):
                api.networks.dnsmasq(network).stop()
            results[network.name] = None
        except (CreatureError, OSError) as exc:
            results[network.name] = str(exc)
    return results


def _each(wave: list[Machine], work) -> None:
    if len(wave) == 1:
        work(wave[0])
        return
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(wave)), thread_name_prefix="creature-host") as pool:
        list(pool.map(work, wave))


def _states(api: Creature, machines: list[Machine]) -> dict[str, tuple[State, str | None]]:
    return {i.name: (i.state, i.note) for i in api.list_machines(only=machines)}


def _warm(api: Creature, machines: list[Machine]) -> None:
    # Probe each driver once here, so worker threads share the cached answers instead of racing to probe.
    for name in {m.driver for m in machines}:
        if name in api.registry:
            api.probe(name)


def host_up(api: Creature, restore: bool = False, progress: Progress | None = None) -> HostReport:
    """Start the autostart machines (and with restore, what ran before), order by order, honouring delays."""
    progress = progress or Progress()
    began = time.monotonic()
    report = HostReport("up")
    with api.home.lock("host", "updown"):
        report.networks = networks_up(api)
        wanted = restore_set(api) if restore else set()
        chosen = [m for m in api.inventory.machines() if m.spec.autostart or m.name in wanted]
        _warm(api, chosen)
        todo = []
        states = _states(api, chosen)
        for m in chosen:
            state, note = states[m.name]
            if state in (State.RUNNING, State.PAUSED):
                report.outcomes[m.name] = "running"
            elif m.driver in api.registry and not api.driver(m.driver).capabilities.autostart:
                report.outcomes[m.name] = "skipped"
                report.errors[m.name] = f"driver {m.driver!r} does not support autostart"
            elif note:
                report.outcomes[m.name] = "failed"
                report.errors[m.name] = note
            else:
                todo.append(m)

        def start(m: Machine) -> None:
            progress.working(m.name, f"starting (order {_order(m)})")
            try:
                api.start(m.name)
                report.outcomes[m.name] = "started"
            except CreatureError as exc:
                try:
                    running = api.state(m.name) == State.RUNNING
                except CreatureError:
                    running = False
                # another creature started it meanwhile: that is the state host up wants
                report.outcomes[m.name] = "running" if running else "failed"
                if not running:
                    report.errors[m.name] = str(exc)
            progress.finished(m.name, report.outcomes[m.name])

        groups = waves(todo)
        progress.begin("up", len(todo))
        try:
            for index, wave in enumerate(groups):
                _each(wave, start)
                delay = max((m.spec.autostart_delay for m in wave if report.outcomes[m.name] == "started"), default=0)
                if delay and index + 1 < len(groups):
                    progress.waiting(delay, f"delay after order {_order(wave[0])}")
                    time.sleep(delay)
        finally:
            progress.end()
        if restore:
            # consumed: a later host up --restore starts only what a later host down records
            left = sorted(n for n in api.inventory.host_value(RUNNING_AT_DOWN) or [] if report.outcomes.get(n) == "failed")
            api.inventory.set_host_value(RUNNING_AT_DOWN, left or None)
    report.seconds = time.monotonic() - began
    return report


def host_down(api: Creature, timeout: float = 60, progress: Progress | None = None) -> HostReport:
    """Stop every running machine, highest order first, in parallel within an order; force what is
    still running when timeout seconds (in all) have passed; record what ran; then stop the networks."""
    progress = progress or Progress()
    began = time.monotonic()
    deadline = began + timeout
    report = HostReport("down")
    with api.home.lock("host", "updown"):
        machines = api.inventory.machines()
        states = _states(api, machines)
        running = [m for m in machines if states[m.name][0] in (State.RUNNING, State.PAUSED)]
        if running:
            # recorded before anything stops, so a host down cut short still leaves the record
            api.inventory.set_host_value(RUNNING_AT_DOWN, sorted(m.name for m in running))
        _warm(api, running)

        def stop(m: Machine) -> None:
            left = max(0.0, deadline - time.monotonic())
            progress.working(m.name, f"stopping (order {_order(m)}, {left:.0f} s left)")
            try:
                forced = api.stop(m.name, left).forced
                report.outcomes[m.name] = "forced" if forced else "stopped"
            except CreatureError as exc:
                try:
                    gone = api.state(m.name) not in (State.RUNNING, State.PAUSED)
                except CreatureError:
                    gone = False
                report.outcomes[m.name] = "stopped" if gone else "failed"
                if not gone:
                    report.errors[m.name] = str(exc)
            progress.finished(m.name, report.outcomes[m.name])

        progress.begin("down", len(running))
        try:
            for wave in waves(running, reverse=True):
                _each(wave, stop)
        finally:
            progress.end()
        report.networks = networks_down(api)
    report.seconds = time.monotonic() - began
    return report
