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
from creature.state import check_state
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
            self.registry.check_known(name)
            try:
                self._probes[name] = self.driver(name).probe(self.host)
            except InputError:
                raise  # the request itself is wrong (say, a local-only driver on a remote host)
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
        return self.home.config()

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
        self.plugins.call("creature_machine_event", machine=machine, event=event)

    def create(self, spec: MachineSpec | dict, *, access=None, cloud_init: str | os.PathLike | None = None) -> MachineInfo:
        """Create a machine from a template; files appear under their final name only when complete.

        access (creature.guest.Access: SSH keys, root password hash) goes into the guest and is not stored;
        cloud_init is a user-data file made into a NoCloud seed in the machine's folder for VM drivers.
        """
        if not isinstance(spec, MachineSpec):
            spec = MachineSpec.parse(spec)
        user_data = None
        if cloud_init is not None:
            from creature.nocloud import read_user_data

            user_data = read_user_data(cloud_init)
        driver_name = spec.driver or self.default_driver()
        self.registry.check_known(driver_name)
        template = self.templates.get(spec.template)
        spec = spec.model_copy(update={"driver": driver_name})
        if not self.probe(driver_name).usable:
            # asking for a machine this host cannot run is refused like bad input: exit 2, nothing made
            raise InputError(f"driver {driver_name!r} is not usable on this host: {self.probe(driver_name).reason}")
        driver = self.driver(driver_name)
        self._check_driver_input(driver, spec)
        with self.home.lock("machine", spec.name), self._nic_allocation(spec):
            if self.inventory.machine(spec.name) is not None:
                raise InputError(f"machine {spec.name!r} already exists")
            spec = self.networks.assign(spec, driver.mac_prefix, driver.mac_max4)
            final = self.home.machine_dir(spec.name)
            if final.exists():
                raise CreatureError(f"{final} exists but is not in the inventory: run `creature doctor --fix`")
            machine = Machine(spec=spec, dir=final, access=access)
            staging = self.home.staging / f"machine.{spec.name}.{os.getpid()}"
            remove_tree(staging)
            staging.mkdir(mode=0o700)
            try:
                checkpoint("create.staging")
                machine.data = driver.create(machine, template, staging) or {}
                if user_data is not None:
                    from creature.nocloud import make_seed

                    seed = make_seed(staging, spec.name, user_data)
                    machine.data["cloud_init_seed"] = str(final / seed.name)
                checkpoint("create.files")
                os.rename(staging, final)
                checkpoint("create.renamed")
                self.inventory.add_machine(machine)
            except BaseException:
                remove_tree(staging)
                if self.inventory.machine(spec.name) is None:
                    remove_tree(final)
                raise
        for network in {n.network for n in spec.nics}:
            self.networks.write_reservations(network)
        self.plugins.call("creature_machine_event", machine=machine, event="created")
        return self.info(spec.name)

    @staticmethod
    def _check_driver_input(driver: Driver, spec: MachineSpec) -> None:
        """Refuse what the driver cannot take: NICs, a node, its own --option values."""
        if spec.nics:
            require(driver, "networks", "networks (--network)")
        if spec.node is not None:
            require(driver, "placement", "placement on a node (--node)")
        driver.check_options(spec.options)

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
            self.networks.attach(machine, self.plugins)
            try:
                driver.start(machine)
            except BaseException:
                self.networks.detach(machine, self.plugins)
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
            if driver.state(machine) not in (State.RUNNING, State.PAUSED):
                raise CreatureError(f"machine {name!r} is not running")
            checkpoint("stop.before")
            result = driver.stop(machine, timeout)
            self.networks.detach(machine, self.plugins)
            self._event(machine, "stopped", "forced" if result.forced else "graceful")
            return result

    def set_autostart(self, name: str, on: bool, order: int | None = None, delay: float | None = None) -> MachineInfo:
        """Mark a machine to start (or not) at `host up`, with its order and the delay after it starts."""
        machine = self.machine(name)
        if on:
            require(self.driver(machine.driver), "autostart", "autostart")
        update = {"autostart": on} | ({"autostart_order": order} if order is not None else {}) | (
            {"autostart_delay": delay} if delay is not None else {})
        with self.home.lock("machine", name):
            machine = self.machine(name)
            spec = machine.spec = MachineSpec.parse(machine.spec.model_dump() | update)
            self.inventory.update_machine(machine)
        self.inventory.add_event(name, "autostart", f"{'on' if on else 'off'} order={spec.autostart_order} delay={spec.autostart_delay:g}")
        return self.info(name)

    def host_up(self, restore: bool = False, progress=None):
        """Start autostart machines by ascending order (see creature.autostart.host_up)."""
        from creature.autostart import host_up

        return host_up(self, restore=restore, progress=progress)

    def host_down(self, timeout: float = 60, progress=None):
        """Stop every running machine by descending order, forcing after timeout (see creature.autostart.host_down)."""
        if timeout < 0:
            raise InputError(f"timeout must not be negative (got {timeout:g})")
        from creature.autostart import host_down

        return host_down(self, timeout=timeout, progress=progress)

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
            self.networks.detach(machine, self.plugins)
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
                self.networks.detach(machine, self.plugins)
            checkpoint("destroy.before")
            driver.destroy(machine)
            self.inventory.remove_machine(name)
            for nic in machine.spec.nics:
                self.networks.write_reservations(nic.network)
            checkpoint("destroy.row")
            remove_tree(machine.dir)
        self.plugins.call("creature_machine_event", machine=machine, event="destroyed")

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

    # cluster operations (drivers with capability migrate or failover)
    def migrate(self, name: str, node: str | None = None) -> MachineInfo:
        """Move a running machine to node (None: where the cluster chooses) while it runs."""
        return self._move(name, "migrate", "live migration", "migrated", lambda d, m: d.migrate(m, node, live=True))

    def failover(self, name: str, node: str | None = None, timeout: float = 30) -> MachineInfo:
        """Stop a machine (graceful up to timeout) and start it again on node (None: where the cluster chooses)."""
        if timeout < 0:
            raise InputError(f"timeout must not be negative (got {timeout:g})")
        return self._move(name, "failover", "failover", "failed-over", lambda d, m: d.failover(m, node, timeout))

    def _move(self, name: str, capability: str, what: str, event: str, action) -> MachineInfo:
        machine = self.machine(name)
        driver = self.usable_driver(machine.driver)
        require(driver, capability, what)
        with self.home.lock("machine", name):
            machine = self.machine(name)
            if capability == "migrate" and driver.state(machine) != State.RUNNING:
                raise CreatureError(f"machine {name!r} is not running: only a running machine migrates live")
            action(driver, machine)
            self._event(machine, event)
        return self.info(name)

    # reporting
    def describe(self, machine: Machine, state: State) -> MachineInfo:
        """What list and show report of a machine whose state is already known (addresses looked up now)."""
        return self._info(machine, state)

    def _info(self, machine: Machine, state: State, note: str | None = None) -> MachineInfo:
        spec = machine.spec
        return MachineInfo(
            name=machine.name, driver=machine.driver, state=state, autostart=spec.autostart, template=spec.template,
            cpus=spec.cpus, memory=spec.memory, macs=[n.mac for n in spec.nics if n.mac], nics=spec.nics,
            **self._addresses(machine, state),
            clone=machine.data.get("clone"), dir=str(machine.dir), created=machine.created, note=note,
        )

    # networks and addresses
    @cached_property
    def networks(self):
        """The home's networks (creature.network.Networks)."""
        from creature.network import Networks

        return Networks(self.home, self.inventory)

    def _nic_allocation(self, spec: MachineSpec):
        """Held from MAC/IP allocation until the machine's row is written, so two creates never pick the same."""
        from contextlib import nullcontext

        return self.home.lock("nics", "allocation") if spec.nics else nullcontext()

    def _address_book(self, fresh: bool = False):
        from creature.addresses import AddressBook

        book, made = getattr(self, "_book", (None, 0.0))
        if fresh or book is None or time.monotonic() - made > 0.5:  # one look serves a whole listing
            book = AddressBook(self.networks)
            self._book = (book, time.monotonic())
        return book

    def _addresses(self, machine: Machine, state: State, fresh: bool = False) -> dict:
        if state not in (State.RUNNING, State.PAUSED):
            return {"addresses": [], "ips": []}
        known = []
        if machine.driver in self.registry:
            try:
                known = self.driver(machine.driver).addresses(machine)
            except (CreatureError, NotImplementedError):
                known = []
        try:
            addresses = self._address_book(fresh).of(machine, known)
        except CreatureError:  # no ip(8) or an unreadable lease file: the listing still shows the machine
            addresses = known
        return {"addresses": addresses, "ips": list(dict.fromkeys(a.ip for a in addresses))}

    def addresses(self, name: str) -> list:
        """A running machine's addresses now, each with its MAC and source."""
        machine = self.machine(name)
        return self._addresses(machine, self.driver(machine.driver).state(machine), fresh=True)["addresses"]

    def wait_ip(self, name: str, timeout: float = 60, ipv6: bool = False) -> list:
        """Wait until the machine runs and has an IPv4 address (any address with ipv6); return its addresses.

        A stopped machine is waited for too (`start` may be on its way). Lease files are checked
        every 20 ms (a stat each), the state, neighbour table and driver every 0.5 s.
        """
        if timeout < 0:
            raise InputError(f"timeout must not be negative (got {timeout:g})")
        machine = self.machine(name)
        driver = self.driver(machine.driver)
        if not machine.spec.nics:
            raise InputError(f"machine {name!r} has no network interface (create it with --network)")
        from creature.addresses import AddressBook
        from creature.dnsmasq import LEASE_SECONDS, read_leases

        networks = [self.inventory.network(n) for n in dict.fromkeys(nic.network for nic in machine.spec.nics)]
        leases = [self.networks.dnsmasq(n).leases for n in networks if n is not None and n.dhcp]
        macs = {nic.mac for nic in machine.spec.nics}
        fresh_after = time.time() - 1 + LEASE_SECONDS  # the expiry of a lease granted after we began
        deadline = time.monotonic() + timeout
        seen: tuple = ()
        next_full = 0.0
        running = False
        while True:
            now = time.monotonic()
            stamps = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in leases)
            changed, seen = stamps != seen, stamps
            full = now >= next_full
            if full:
                next_full = now + 0.5
            if full or (changed and not running):
                running = driver.state(machine) in (State.RUNNING, State.PAUSED)
                if not running and changed:
                    # a lease granted after we began is the machine's new one, even before `start` has recorded it
                    running = any(lease.mac in macs and lease.expires >= fresh_after for p in leases for lease in read_leases(p))
            if running and (full or changed):
                book = AddressBook(self.networks)
                if not full:
                    book.neighbours = []  # only a lease changed: answer from it without forking ip
                found = book.of(machine, driver.addresses(machine) if full else [])
                if any(ipv6 or ":" not in a.ip for a in found):
                    return found
            if now > deadline:
                if not running:
                    raise CreatureError(f"machine {name!r} is not running (waited {timeout:g} s for it to start)")
                raise CreatureError(f"machine {name!r} has no {'address' if ipv6 else 'IPv4 address'} after {timeout:g} s")
            time.sleep(0.02)

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
        infos = []
        for name, group in by_driver.items():
            if name not in self.registry:
                infos += [self._info(m, State.UNKNOWN, f"driver {name!r} is not installed") for m in group]
                continue
            try:
                found = self.driver(name)
                states = found.states(group)
                nodes = found.nodes(group) if found.capabilities.placement else {}
                infos += [self._info(m, states.get(m.name, State.UNKNOWN)).model_copy(update={"node": nodes.get(m.name)})
                          for m in group]
            except CreatureError as exc:
                infos += [self._info(m, State.UNKNOWN, str(exc)) for m in group]
        infos.sort(key=lambda i: i.name)
        return [i for i in infos if state is None or i.state.value == state]

    # dry runs
    def plan_create(self, spec: MachineSpec | dict) -> dict:
        """What create would write and run, computed in a throwaway folder: the home is not touched."""
        import shutil
        import tempfile

        if not isinstance(spec, MachineSpec):
            spec = MachineSpec.parse(spec)
        driver_name = spec.driver or self.default_driver()
        self.registry.check_known(driver_name)
        template = self.templates.get(spec.template)
        spec = spec.model_copy(update={"driver": driver_name})
        if self.inventory.machine(spec.name) is not None:
            raise InputError(f"machine {spec.name!r} already exists")
        driver = self.driver(driver_name)
        self._check_driver_input(driver, spec)
        driver.dry_run = True
        spec = self.networks.assign(spec, driver.mac_prefix, driver.mac_max4)  # checks the NICs; reads only
        machine = Machine(spec=spec, dir=self.home.root / "machines" / spec.name)
        staging = Path(tempfile.mkdtemp(prefix="creature-plan."))
        scratch = Path(tempfile.mkdtemp(prefix="creature-plan-scratch."))
        from creature.templates import DRY_RUN_SCRATCH

        token = DRY_RUN_SCRATCH.set(scratch)
        try:
            machine.data = driver.create(machine, template, staging) or {}
            files = []
            for path in sorted(p for p in staging.rglob("*") if p.is_file() and not p.is_symlink()):
                raw = path.read_bytes()
                text = raw.decode() if len(raw) <= 65536 and b"\0" not in raw else None
                files.append({"path": str(machine.dir / path.relative_to(staging)), "mode": oct(path.stat().st_mode & 0o777),
                              "size": len(raw), "content": text})
        finally:
            DRY_RUN_SCRATCH.reset(token)
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(scratch, ignore_errors=True)
        commands = {}
        for action in ("start", "stop", "kill", "destroy"):
            try:
                commands[action] = driver.plan(machine, action)
            except NotImplementedError:
                commands[action] = None
        probe = self.probe(driver_name)
        return {"machine": spec.name, "driver": driver_name, "usable": probe.usable, "reason": probe.reason,
                "files": files, "commands": commands}

    def plan(self, name: str, action: str) -> list[list[str]]:
        """The commands `action` would run on machine name, without running them."""
        machine = self.machine(name)
        driver = self.driver(machine.driver)
        try:
            return driver.plan(machine, action)
        except NotImplementedError:
            raise CreatureError(f"driver {driver.name!r} cannot show its commands (no --dry-run support)") from None

    # repair
    def rebuild_inventory(self) -> dict:
        """Move a damaged inventory aside and rebuild it from the template.json and machine.json in each folder."""
        import json

        from creature.model import Template

        self.inventory.close()
        moved = None
        if self.home.inventory.exists():
            moved = self.home.inventory.with_name(f"inventory.sqlite.broken-{int(time.time())}")
            os.rename(self.home.inventory, moved)
            for suffix in ("-wal", "-shm"):
                side = self.home.inventory.with_name("inventory.sqlite" + suffix)
                if side.exists():
                    os.rename(side, moved.with_name(moved.name + suffix))
        self.inventory = Inventory(self.home.inventory)
        recovered = {"templates": [], "machines": [], "skipped": [], "moved_aside": str(moved) if moved else None}
        for path in sorted(self.home.templates.glob("*/template.json")):
            try:
                self.inventory.add_template(Template.model_validate_json(path.read_text()))
                recovered["templates"].append(path.parent.name)
            except Exception as exc:
                recovered["skipped"].append(f"{path}: {exc}")
        from creature.model import Network

        recovered["networks"] = []
        for path in sorted(self.home.networks.glob("*/network.json")):
            try:
                self.inventory.add_network(Network.model_validate_json(path.read_text()))
                recovered["networks"].append(path.parent.name)
            except Exception as exc:
                recovered["skipped"].append(f"{path}: {exc}")
        for path in sorted(self.home.machines.glob("*/machine.json")):
            try:
                saved = json.loads(path.read_text())
                machine = Machine(spec=MachineSpec.model_validate(saved["spec"]), dir=path.parent, data=saved["data"],
                                  created=saved["created"])
                self.inventory.add_machine(machine)
                recovered["machines"].append(machine.name)
            except Exception as exc:
                recovered["skipped"].append(f"{path}: {exc}")
        return recovered

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
