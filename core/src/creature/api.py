"""The Python API: every operation the command line offers, on one creature home."""

from __future__ import annotations

import os
import time
from functools import cached_property
from pathlib import Path
from typing import Any

from creature.checkpoints import checkpoint
from creature.drivers import Driver, Probe, StopResult, require
from creature.errors import CreatureError, InputError, NotFound
from creature.home import Home
from creature.host import HostFacts
from creature.inventory import Inventory
from creature.model import Machine, MachineInfo, MachineSpec, State, check_name
from creature.plugins import Plugins, get_plugins
from creature.templates import TemplateStore, remove_tree


class Creature:
    """One creature home with every installed driver: create, start, stop, list, destroy machines."""

    def __init__(self, home: Home | Path | str | None = None, plugins: Plugins | None = None):
        self.home = home if isinstance(home, Home) else Home(home)
        self.plugins = plugins or get_plugins()
        self.inventory = Inventory(self.home.inventory)
        self.host = HostFacts()
        self._drivers: dict[str, Driver] = {}
        self._probes: dict[str, Probe] = {}

    # drivers
    @cached_property
    def registry(self):
        return self.plugins.registry()

    def driver(self, name: str) -> Driver:
        """The driver instance for name (unknown names are an InputError listing the known ones)."""
        if name not in self._drivers:
            self._drivers[name] = self.registry.entry(name).cls(self.home)
        return self._drivers[name]

    def probe(self, name: str) -> Probe:
        if name not in self._probes:
            driver = self.driver(name)
            try:
                self._probes[name] = driver.probe(self.host)
            except Exception as exc:  # a broken probe makes its driver unusable, never the tool
                from creature.drivers import Check

                self._probes[name] = Probe.of(name, [Check(name="probe", ok=False, reason=f"probe failed: {exc}")])
        return self._probes[name]

    def usable_driver(self, name: str) -> Driver:
        probe = self.probe(name)
        if not probe.usable:
            raise CreatureError(f"driver {name!r} is not usable on this host: {probe.reason}")
        return self.driver(name)

    def default_driver(self) -> str:
        """CREATURE_DRIVER, then the home's config, then the usable driver with the highest priority."""
        for source in (os.environ.get("CREATURE_DRIVER"), self._config().get("driver")):
            if source:
                self.registry.check_known(source)
                return source
        usable = [(entry.cls.priority, name) for name, entry in self.registry if self.probe(name).usable]
        if not usable:
            raise CreatureError("no usable driver on this host: see `creature host check`")
        return max(usable)[1]

    def _config(self) -> dict[str, Any]:
        path = self.home.root / "config.toml"
        if not path.exists():
            return {}
        import tomllib

        try:
            return tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise InputError(f"{path}: {exc}") from None

    def bootstrappers(self) -> dict[str, type]:
        found: dict[str, tuple[type, str]] = {}
        for plugin, function in self.plugins.each("creature_register_bootstrappers"):
            def register(cls, _p=plugin):
                if cls.name in found:
                    raise CreatureError(
                        f"template method {cls.name!r} is registered twice: by {self.plugins.distribution_of(found[cls.name][1])}"
                        f" and by {self.plugins.distribution_of(_p)}"
                    )
                found[cls.name] = (cls, _p)
            function(register=register)
        return {name: cls for name, (cls, _p) in found.items()}

    @cached_property
    def templates(self) -> TemplateStore:
        return TemplateStore(self.home, self.inventory, self.bootstrappers())

    # machines
    def machine(self, name: str) -> Machine:
        check_name("machine", name)
        machine = self.inventory.machine(name)
        if machine is None:
            raise NotFound(f"no machine named {name!r}")
        return machine

    def _event(self, machine: Machine, event: str, detail: str = "") -> None:
        self.inventory.add_event(machine.name, event, detail)
        self.plugins.hook.creature_machine_event(machine=machine, event=event)

    def create(self, spec: MachineSpec | dict) -> MachineInfo:
        """Create a machine from a template; files appear under their final name only when complete."""
        if not isinstance(spec, MachineSpec):
            spec = MachineSpec.parse(spec)
        driver_name = spec.driver or self.default_driver()
        self.registry.check_known(driver_name)
        template = self.templates.get(spec.template)
        spec = spec.model_copy(update={"driver": driver_name})
        driver = self.usable_driver(driver_name)
        with self.home.lock("machine", spec.name):
            if self.inventory.machine(spec.name) is not None:
                raise InputError(f"machine {spec.name!r} already exists")
            final = self.home.machine_dir(spec.name)
            if final.exists():
                raise CreatureError(f"{final} exists but is not in the inventory: run `creature doctor --fix`")
            machine = Machine(spec=spec, dir=final)
            staging = self.home.staging / f"machine.{spec.name}.{os.getpid()}"
            remove_tree(staging)
            staging.mkdir(mode=0o700)
            try:
                checkpoint("create.staging")
                machine.data = driver.create(machine, template, staging) or {}
                checkpoint("create.files")
                os.rename(staging, final)
                checkpoint("create.renamed")
                self.inventory.add_machine(machine)
            except BaseException:
                remove_tree(staging)
                if self.inventory.machine(spec.name) is None:
                    remove_tree(final)
                raise
        self.plugins.hook.creature_machine_event(machine=machine, event="created")
        return self.info(spec.name)

    def state(self, name: str) -> State:
        machine = self.machine(name)
        return self.driver(machine.driver).state(machine)

    def start(self, name: str) -> None:
        machine = self.machine(name)
        driver = self.usable_driver(machine.driver)
        with self.home.lock("machine", name):
            machine = self.machine(name)  # it may have been destroyed while we waited
            if driver.state(machine) == State.RUNNING:
                raise CreatureError(f"machine {name!r} is already running")
            checkpoint("start.before")
            driver.start(machine)
            checkpoint("start.after")
            self._event(machine, "started")

    def stop(self, name: str, timeout: float = 30) -> StopResult:
        if timeout < 0:
            raise InputError(f"timeout must not be negative (got {timeout:g})")
        machine = self.machine(name)
        driver = self.usable_driver(machine.driver)
        with self.home.lock("machine", name):
            machine = self.machine(name)
            if driver.state(machine) not in (State.RUNNING, State.PAUSED):
                raise CreatureError(f"machine {name!r} is not running")
            checkpoint("stop.before")
            result = driver.stop(machine, timeout)
            self._event(machine, "stopped", "forced" if result.forced else "graceful")
            return result

    def restart(self, name: str, timeout: float = 30) -> StopResult:
        result = self.stop(name, timeout)
        self.start(name)
        return result

    def kill(self, name: str) -> None:
        machine = self.machine(name)
        driver = self.usable_driver(machine.driver)
        with self.home.lock("machine", name):
            machine = self.machine(name)
            if driver.state(machine) not in (State.RUNNING, State.PAUSED):
                raise CreatureError(f"machine {name!r} is not running")
            driver.kill(machine)
            self._event(machine, "killed")

    def destroy(self, name: str, force: bool = False) -> None:
        """Remove a stopped machine and its files (force kills a running one first)."""
        machine = self.machine(name)
        driver = self.driver(machine.driver)
        with self.home.lock("machine", name):
            machine = self.machine(name)
            if driver.state(machine) in (State.RUNNING, State.PAUSED):
                if not force:
                    raise CreatureError(f"machine {name!r} is running: stop it first, or destroy --force")
                driver.kill(machine)
            checkpoint("destroy.before")
            driver.destroy(machine)
            self.inventory.remove_machine(name)
            checkpoint("destroy.row")
            remove_tree(machine.dir)
        self.plugins.hook.creature_machine_event(machine=machine, event="destroyed")

    def exec(self, name: str, argv: list[str]) -> int:
        if not argv:
            raise InputError("exec needs a command: creature exec NAME -- CMD...")
        machine = self.machine(name)
        driver = self.usable_driver(machine.driver)
        require(driver, "exec", "exec")
        if driver.state(machine) != State.RUNNING:
            raise CreatureError(f"machine {name!r} is not running")
        return driver.exec(machine, list(argv))

    def console(self, name: str) -> int:
        machine = self.machine(name)
        driver = self.usable_driver(machine.driver)
        require(driver, "console", "console")
        if driver.state(machine) != State.RUNNING:
            raise CreatureError(f"machine {name!r} is not running")
        return driver.console(machine)

    # reporting
    def _info(self, machine: Machine, state: State, note: str | None = None) -> MachineInfo:
        spec = machine.spec
        return MachineInfo(
            name=machine.name, driver=machine.driver, state=state, autostart=spec.autostart, template=spec.template,
            cpus=spec.cpus, memory=spec.memory, macs=[n.mac for n in spec.nics if n.mac], ips=[],
            clone=machine.data.get("clone"), dir=str(machine.dir), created=machine.created, note=note,
        )

    def info(self, name: str) -> MachineInfo:
        machine = self.machine(name)
        return self.list_machines(only=[machine])[0]

    def list_machines(self, driver: str | None = None, state: str | None = None, only: list[Machine] | None = None) -> list[MachineInfo]:
        """Every machine with its state, each driver asked once for all of its machines."""
        if driver is not None:
            self.registry.check_known(driver)
        if state is not None and state not in {s.value for s in State}:
            raise InputError(f"unknown state {state!r} (known: {', '.join(s.value for s in State)})")
        machines = only if only is not None else self.inventory.machines()
        by_driver: dict[str, list[Machine]] = {}
        for m in machines:
            if driver is None or m.driver == driver:
                by_driver.setdefault(m.driver, []).append(m)
        infos = []
        for name, group in by_driver.items():
            if name not in self.registry:
                infos += [self._info(m, State.UNKNOWN, f"driver {name!r} is not installed") for m in group]
                continue
            try:
                states = self.driver(name).states(group)
                infos += [self._info(m, states.get(m.name, State.UNKNOWN)) for m in group]
            except CreatureError as exc:
                infos += [self._info(m, State.UNKNOWN, str(exc)) for m in group]
        infos.sort(key=lambda i: i.name)
        return [i for i in infos if state is None or i.state.value == state]

    # repair
    def doctor(self, fix: bool = False) -> list[dict]:
        """Find (and with fix, remove) leftovers of interrupted work: staging folders, orphan folders, rows without files."""
        problems = []
        for entry in sorted(self.home.staging.iterdir()):
            kind, _, rest = entry.name.partition(".")
            name, _, pid = rest.rpartition(".")
            if kind in ("machine", "template") and self.home.is_locked(kind, name):
                continue  # being created right now
            problems.append({"kind": "staging", "path": str(entry), "problem": f"left by an interrupted {kind} build of {name!r}"})
            if fix:
                remove_tree(entry)
        known = set(self.inventory.machine_names())
        for entry in sorted(self.home.machines.iterdir()):
            if entry.name not in known and not self.home.is_locked("machine", entry.name):
                problems.append({"kind": "orphan", "path": str(entry), "problem": "machine folder with no inventory entry"})
                if fix:
                    remove_tree(entry)
        for machine in self.inventory.machines():
            if not machine.dir.is_dir():
                problems.append({"kind": "missing-files", "path": str(machine.dir), "problem": f"machine {machine.name!r} has no folder; its definition is kept"})
        templates = {t.name for t in self.inventory.templates()}
        for entry in sorted(self.home.templates.iterdir()):
            if entry.name not in templates and not self.home.is_locked("template", entry.name):
                problems.append({"kind": "orphan", "path": str(entry), "problem": "template folder with no inventory entry"})
                if fix:
                    remove_tree(entry)
        for p in problems:
            p["fixed"] = fix and p["kind"] != "missing-files"
        return problems
