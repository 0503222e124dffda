"""The Python API: every operation the command line offers, on one creature home (a thin facade)."""

from __future__ import annotations

import os
from contextlib import nullcontext
from functools import cached_property
from pathlib import Path

from creature.api_features import Features
from creature.checkpoints import checkpoint
from creature.drivers import Check, Driver, Probe, StopResult, require
from creature.errors import CreatureError, InputError, NotFound
from creature.home import Home
from creature.host import HostFacts
from creature.inventory import Inventory
from creature.names import check_name
from creature.plugins import Plugins, get_plugins
from creature.records import Address, Machine, MachineInfo, MachineSpec
from creature.state import ADDRESSED, State, check_state
from creature.templates import TemplateStore, remove_tree


class Creature(Features):
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
            self.registry.check_known(name)
            try:
                self._probes[name] = self.driver(name).probe(self.host)
            except InputError:
                raise  # the request itself is wrong (say, a local-only driver on a remote host)
            except Exception as exc:  # a broken probe makes its driver unusable, never the tool
                self._probes[name] = Probe.of(name, [Check(name="probe", ok=False, reason=f"probe failed: {exc}")])
        return self._probes[name]

    def usable_driver(self, name: str) -> Driver:
        probe = self.probe(name)
        if not probe.usable:
            raise CreatureError(f"driver {name!r} is not usable on this host: {probe.reason}")
        return self.driver(name)

    def default_driver(self) -> str:
        """CREATURE_DRIVER, then the home's config, then the usable driver with the highest priority."""
        for source in (os.environ.get("CREATURE_DRIVER"), self.home.config().get("driver")):
            if source:
                self.registry.check_known(source)
                return source
        usable = [(entry.cls.priority, name) for name, entry in self.registry if self.probe(name).usable]
        if not usable:
            raise CreatureError("no usable driver on this host: see `creature host check`")
        return max(usable)[1]

    def bootstrappers(self) -> dict[str, type]:
        """Template methods by name (creature_register_bootstrappers)."""
        from creature.templates import bootstrappers

        return bootstrappers(self.plugins)

    @cached_property
    def templates(self) -> TemplateStore:
        return TemplateStore(self.home, self.inventory, self.bootstrappers)

    # machines
    def machine(self, name: str) -> Machine:
        check_name("machine", name)
        machine = self.inventory.machine(name)
        if machine is None:
            raise NotFound(f"no machine named {name!r}")
        return machine

    def _event(self, machine: Machine, event: str, detail: str = "") -> None:
        self.inventory.add_event(machine.name, event, detail)
        self.plugins.call("creature_machine_event", api=self, machine=machine, event=event)

    def prepare(self, spec: MachineSpec | dict) -> tuple[MachineSpec, Driver]:
        """Validate a spec (a dict is operator input), choose its driver, check its template and NICs; change nothing."""
        if not isinstance(spec, MachineSpec):
            spec = MachineSpec.parse(spec)
        driver_name = spec.driver or self.default_driver()
        self.registry.check_known(driver_name)
        self.templates.get(spec.template)
        spec = spec.replace(driver=driver_name)
        driver = self.driver(driver_name)
        if spec.nics:
            require(driver, "networks", "networks (--network)")
        if spec.node is not None:
            require(driver, "placement", "placement on a node (--node)")
        driver.check_options(spec.options)
        if spec.disk is not None:
            require(driver, "disk_limit", "disk limits (--disk)")
        return spec, driver

    def assign_nics(self, spec: MachineSpec, driver: Driver) -> MachineSpec:
        """spec with its NICs' MACs and IPs filled in by the plugin that manages networks (creature_assign_nics)."""
        if not spec.nics:
            return spec
        assigned = self.plugins.call("creature_assign_nics", api=self, spec=spec, driver=driver)
        if assigned is None:
            raise InputError("no installed plugin manages networks: --network cannot be used")
        return assigned

    def create(self, spec: MachineSpec | dict, *, access=None, cloud_init=None) -> MachineInfo:
        """Create a machine from a template; files appear under their final name only when complete.

        access (creature.sdk.Access: SSH keys, root password hash) goes into the guest and is not stored; cloud_init
        (a user-data file, or a creature.builtin.guest.nocloud.NoCloud) too. Either is refused where the driver's
        guests cannot take it (creature.builtin.guest.inputs).
        """
        from creature.builtin.guest.inputs import GuestInputs

        spec, driver = self.prepare(spec)
        inputs = GuestInputs.check(driver, access, cloud_init)
        if not self.probe(driver.name).usable:
            # asking for a machine this host cannot run is refused like bad input: exit 2, nothing made
            raise InputError(f"driver {driver.name!r} is not usable on this host: {self.probe(driver.name).reason}")
        template = self.templates.get(spec.template)
        lock = self.home.lock("nics", "allocation") if spec.nics else nullcontext()
        with self.home.lock("machine", spec.name), lock:
            # held from MAC/IP allocation until the row is written, so two creates never pick the same
            if self.inventory.machine(spec.name) is not None:
                raise InputError(f"machine {spec.name!r} already exists")
            spec = self.assign_nics(spec, driver)
            final = self.home.machine_dir(spec.name)
            if final.exists():
                raise CreatureError(f"{final} exists but is not in the inventory: run `creature doctor --fix`")
            machine = Machine(spec=spec, dir=final)
            staging = self.home.staging / f"machine.{spec.name}.{os.getpid()}"
            remove_tree(staging)
            staging.mkdir(mode=0o700)
            try:
                checkpoint("create.staging")
                with inputs.given(self.home, machine, driver) as data:
                    machine.data = {**(driver.create(machine, template, staging) or {}), **data}
                checkpoint("create.files")
                os.rename(staging, final)
                checkpoint("create.renamed")
                self.inventory.add_machine(machine)
            except BaseException:
                remove_tree(staging)
                if self.inventory.machine(spec.name) is None:
                    remove_tree(final)
                raise
        self.plugins.call("creature_machine_event", api=self, machine=machine, event="created")
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
            if machine.spec.nics:
                self.plugins.call("creature_prepare_start", api=self, machine=machine)
            driver.plug_nics(machine)
            try:
                driver.start(machine)
            except BaseException:
                driver.unplug_nics(machine)
                raise
            checkpoint("start.after")
            self._event(machine, "started")

    def stop(self, name: str, timeout: float = 30) -> StopResult:
        if timeout < 0:
            raise InputError(f"timeout must not be negative (got {timeout:g})")
        machine = self.machine(name)
        driver = self.usable_driver(machine.driver)
        with self.home.lock("machine", name):
            machine = self.machine(name)
            if driver.state(machine) not in ADDRESSED:
                raise CreatureError(f"machine {name!r} is not running")
            checkpoint("stop.before")
            result = driver.stop(machine, timeout)
            driver.unplug_nics(machine)
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
            if driver.state(machine) not in ADDRESSED:
                raise CreatureError(f"machine {name!r} is not running")
            driver.kill(machine)
            driver.unplug_nics(machine)
            self._event(machine, "killed")

    def destroy(self, name: str, force: bool = False) -> None:
        """Remove a stopped machine and its files (force kills a running one first)."""
        machine = self.machine(name)
        driver = self.driver(machine.driver)
        with self.home.lock("machine", name):
            machine = self.machine(name)
            if driver.state(machine) in ADDRESSED:
                if not force:
                    raise CreatureError(f"machine {name!r} is running: stop it first, or destroy --force")
                driver.kill(machine)
                driver.unplug_nics(machine)
            checkpoint("destroy.before")
            driver.destroy(machine)
            self.inventory.remove_machine(name)
            checkpoint("destroy.row")
            remove_tree(machine.dir)
        self.plugins.call("creature_machine_event", api=self, machine=machine, event="destroyed")

    def exec(self, name: str, argv: list[str]) -> int:
        """Run argv in the running machine with the caller's stdio; its exit status. Drivers without exec: over SSH."""
        if not argv:
            raise InputError("exec needs a command: creature exec NAME -- CMD...")
        machine = self.machine(name)
        driver = self.usable_driver(machine.driver)
        if not driver.capabilities.exec and machine.data.get("ssh_key") and machine.spec.nics:
            from creature.builtin.ssh.client import ssh

            return ssh(self, name, list(argv))
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
    def describe(self, machine: Machine, state: State) -> MachineInfo:
        """What list and show report of a machine whose state is already known (addresses looked up now)."""
        return self._infos([(machine, state, None)])[0]

    def _infos(self, known: list[tuple[Machine, State, str | None]]) -> list[MachineInfo]:
        running = [m for m, state, _ in known if state in ADDRESSED]
        found = self.addresses_of(running) if running else {}
        infos = []
        for machine, state, note in known:
            spec, addresses = machine.spec, found.get(machine.name, [])
            infos.append(MachineInfo(
                name=machine.name, driver=machine.driver, state=state, autostart=spec.autostart, template=spec.template,
                cpus=spec.cpus, memory=spec.memory, disk=spec.disk, macs=[n.mac for n in spec.nics if n.mac], nics=list(spec.nics),
                addresses=addresses, ips=list(dict.fromkeys(a.ip for a in addresses)),
                clone=machine.data.get("clone"), dir=str(machine.dir), created=machine.created, note=note,
            ))
        return infos

    def addresses_of(self, machines: list[Machine]) -> dict[str, list[Address]]:
        """Each running machine's addresses: what plugins see (leases, neighbours) first, then its driver's own."""
        found: dict[str, list[Address]] = {m.name: [] for m in machines}
        try:
            for answer in self.plugins.call("creature_machine_addresses", api=self, machines=machines):
                for name, addresses in (answer or {}).items():
                    found.setdefault(name, []).extend(addresses)
        except CreatureError:
            pass  # no ip(8) or an unreadable lease file: the listing still shows the machines
        for machine in machines:
            if machine.driver in self.registry:
                try:
                    found[machine.name] += [a if a.source else a.replace(source="driver")
                                            for a in self.driver(machine.driver).addresses(machine)]
                except (CreatureError, NotImplementedError):
                    pass
            seen, order = set(), {nic.mac: i for i, nic in enumerate(machine.spec.nics)}
            unique = [a for a in found[machine.name] if (a.mac, a.ip) not in seen and not seen.add((a.mac, a.ip))]
            found[machine.name] = sorted(unique, key=lambda a: (order.get(a.mac, len(order)), ":" in a.ip))
        return found

    def addresses(self, name: str) -> list[Address]:
        """A running machine's addresses now, each with its MAC and source."""
        machine = self.machine(name)
        if self.driver(machine.driver).state(machine) not in ADDRESSED:
            return []
        return self.addresses_of([machine])[machine.name]

    def info(self, name: str) -> MachineInfo:
        machine = self.machine(name)
        info = self.list_machines(only=[machine])[0]
        if machine.driver in self.registry:
            try:
                info.details = self.driver(machine.driver).details(machine)
            except CreatureError as exc:
                info.details = {"error": str(exc)}
        return info

    def list_machines(self, driver: str | None = None, state: str | None = None, only: list[Machine] | None = None) -> list[MachineInfo]:
        """Every machine with its state, each driver asked once for all of its machines."""
        if driver is not None:
            self.registry.check_known(driver)
        check_state(state)
        machines = only if only is not None else self.inventory.machines()
        by_driver: dict[str, list[Machine]] = {}
        for m in machines:
            if driver is None or m.driver == driver:
                by_driver.setdefault(m.driver, []).append(m)
        known: list[tuple[Machine, State, str | None]] = []
        nodes: dict[str, str] = {}
        for name, group in by_driver.items():
            if name not in self.registry:
                known += [(m, State.UNKNOWN, f"driver {name!r} is not installed") for m in group]
                continue
            try:
                found = self.driver(name)
                states = found.states(group)
                nodes.update(found.nodes(group) if found.capabilities.placement else {})
                known += [(m, states.get(m.name, State.UNKNOWN), None) for m in group]
            except CreatureError as exc:
                known += [(m, State.UNKNOWN, str(exc)) for m in group]
        infos = sorted((i.replace(node=nodes.get(i.name)) for i in self._infos(known)), key=lambda i: i.name)
        return [i for i in infos if state is None or i.state.value == state]
