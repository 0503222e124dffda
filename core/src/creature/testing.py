"""pytest plugin for driver authors: a temporary creature home, CLI and API fixtures, and DriverConformance.

A third-party driver's test suite needs only:

    from creature.testing import DriverConformance

    class TestMyDriver(DriverConformance):
        driver = "mydriver"

Every test in DriverConformance runs against the real hypervisor. A driver
whose probe says it is unusable is skipped with the probe's reason, unless
its name is in CREATURE_REQUIRE_DRIVERS (comma separated), where it fails:
CI lists the drivers that must run on its machines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from creature.errors import CreatureError
from creature.testing_cleanup import cleanup_home, stop_home  # noqa: F401  (part of this module's API)
from creature.testing_console import ConsoleSession  # noqa: F401 (part of the kit: creature.testing.ConsoleSession)
from creature.testing_guest import GuestConformance
from creature.testing_snapshots import SnapshotConformance


def required_drivers() -> set[str]:
    return {d.strip() for d in os.environ.get("CREATURE_REQUIRE_DRIVERS", "").split(",") if d.strip()}


def require_usable(api, driver: str):
    """api.driver(driver) if it is installed and usable here; else skip, or fail if CREATURE_REQUIRE_DRIVERS names it, saying why."""
    __tracebackhide__ = True  # skips and failures point at the fixture that asked
    if driver not in api.registry:
        reason = f"not installed (no installed plugin registers it; known: {', '.join(api.registry.names()) or 'none'})"
    else:
        probe = api.probe(driver)
        if probe.usable:
            return api.driver(driver)
        reason = f"not usable on this host: {probe.reason}"
    if driver in required_drivers():
        pytest.fail(f"driver {driver} is required here (CREATURE_REQUIRE_DRIVERS) but {reason}")
    pytest.skip(f"driver {driver} is {reason}")


def make_home() -> Path:
    """A short temporary home (unix socket paths under it must stay below 108 bytes)."""
    return Path(tempfile.mkdtemp(prefix="crt.", dir="/tmp"))


def snapshot(home: Path) -> tuple[str, list[tuple[str, int, int]]]:
    """The inventory's content and the home's files (path, size, mode): equal before and after means nothing changed."""
    from creature.inventory import Inventory

    dump = ""
    if (home / "inventory.sqlite").exists():
        inv = Inventory(home / "inventory.sqlite")
        dump = inv.dump()
        inv.close()
    files = []
    for root, dirs, names in os.walk(home):
        rel_root = Path(root).relative_to(home)
        if rel_root.parts[:1] == ("locks",):
            continue
        for n in dirs + names:
            rel = rel_root / n
            if rel.name.startswith("inventory.sqlite"):
                continue
            st = os.lstat(Path(root) / n)
            files.append((str(rel), st.st_size if not os.path.isdir(Path(root) / n) else 0, st.st_mode))
    return dump, sorted(files)


@dataclass
class Result:
    """What one `creature` command did."""

    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


class CLI:
    """Runs the real `creature` command (a subprocess) against one home."""

    def __init__(self, home: Path, env: dict[str, str] | None = None):
        self.home = home
        self.env = env or {}

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 300) -> Result:
        full_env = dict(os.environ, **self.env, **(env or {}))
        proc = subprocess.run(
            [sys.executable, "-m", "creature", "--home", str(self.home), *args],
            input=input, capture_output=True, text=True, timeout=timeout, env=full_env,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, **kwargs) -> Result:
        """Run and insist on exit 0, showing stderr when not."""
        result = self(*args, **kwargs)
        assert result.code == 0, f"creature {' '.join(args)} exited {result.code}: {result.err.strip()}"
        return result


@pytest.fixture
def creature_home():
    """A fresh, short-pathed creature home; every machine in it is killed and destroyed afterwards."""
    home = make_home()
    yield home
    cleanup_home(home)


@pytest.fixture
def creature_cli(creature_home) -> CLI:
    """The `creature` command line bound to creature_home."""
    return CLI(creature_home)


@pytest.fixture
def other_creature_cli() -> CLI:
    """The command line of a second temporary home (moving machines between homes), cleaned up like creature_home."""
    home = make_home()
    yield CLI(home)
    cleanup_home(home)


@pytest.fixture
def creature_api(creature_home):
    """A creature.api.Creature on creature_home."""
    from creature.api import Creature

    api = Creature(creature_home)
    yield api
    api.inventory.close()


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll predicate until it returns something true; fail the test after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)




class DriverConformance(GuestConformance, SnapshotConformance):
    """The lifecycle every driver must pass, through the Python API and through the CLI (and the guest and snapshot tests).

    Subclasses set `driver`, and may set the template method and options,
    the command exec runs and what it prints, and the time a guest needs
    to boot far enough to run it.
    """

    driver: str = ""
    snapshot = staticmethod(snapshot)
    template_method: str = "busybox"
    template_options: dict = {}
    exec_argv: tuple[str, ...] = ("echo", "creature-conformance")
    exec_output: str = "creature-conformance"
    boot_timeout: float = 60
    stop_timeout: float = 30

    @pytest.fixture
    def usable(self, creature_api):
        """Skip (or, for a required driver, fail) when the driver cannot run on this host."""
        return require_usable(creature_api, self.driver)

    @pytest.fixture
    def template(self, creature_api, usable) -> str:
        """The template the conformance machines are cloned from."""
        name = f"conf-{self.template_method}"
        creature_api.templates.build(name, self.template_method, dict(self.template_options))
        return name

    def _caps(self, api):
        return api.driver(self.driver).capabilities

    def _exec_ready(self, run_exec) -> str:
        def attempt():
            out = run_exec()
            return out if out is not None and self.exec_output in out else None
        return wait_until(attempt, self.boot_timeout, 0.5, f"exec in a {self.driver} guest to print {self.exec_output!r}")

    def test_probe_gives_reasons(self, creature_api):
        probe = creature_api.probe(self.driver)
        assert probe.driver == self.driver
        assert probe.checks, "a probe must report at least one check"
        assert all(c.reason.strip() for c in probe.checks), "every check needs a reason"
        assert probe.usable == all(c.ok for c in probe.checks)

    def test_capabilities_match_methods(self, creature_api):
        """Each method-backed capability (console, exec, remote, snapshot, export) is declared exactly when its methods are."""
        from creature.drivers import METHODS, Driver

        driver = creature_api.driver(self.driver)
        for capability, methods in METHODS.items():
            for method in methods:
                implemented = getattr(type(driver), method) is not getattr(Driver, method)
                assert implemented == getattr(driver.capabilities, capability), (
                    f"capability {capability}={getattr(driver.capabilities, capability)} but {method}() is "
                    f"{'implemented' if implemented else 'not implemented'}"
                )
        caps = driver.capabilities
        assert caps.snapshot or not caps.snapshot_running, "snapshot_running without snapshot"
        assert caps.snapshot_running or not caps.snapshot_memory, "snapshot_memory without snapshot_running"

    def test_create_data_matches_the_data_model(self, creature_api, tmp_path):
        """What create() returns has only the keys, of the types, the driver's data_model declares (a dry run: any host)."""
        import typing

        from creature.builtin.support.dryrun import DRY_RUN_SCRATCH
        from creature.records import Machine, MachineData, MachineSpec

        driver = creature_api.driver(self.driver)
        assert issubclass(driver.data_model, dict) and set(typing.get_type_hints(MachineData)) <= set(
            typing.get_type_hints(driver.data_model)), "data_model must be a creature.sdk.MachineData subclass"
        creature_api.templates.build("conf-data", "busybox")
        machine = Machine(spec=MachineSpec.parse({"name": "conf-data", "driver": self.driver, "template": "conf-data"}),
                          dir=creature_api.home.machine_dir("conf-data"))
        (tmp_path / "staging").mkdir()
        driver.dry_run, token = True, DRY_RUN_SCRATCH.set(tmp_path)
        try:
            data = driver.create(machine, creature_api.templates.get("conf-data"), tmp_path / "staging")
        finally:
            driver.dry_run = False
            DRY_RUN_SCRATCH.reset(token)
        hints = typing.get_type_hints(driver.data_model)
        assert set(data) <= set(hints), f"create() returned keys its data_model does not declare: {set(data) - set(hints)}"
        for key, value in data.items():
            expected = typing.get_origin(hints[key]) or hints[key]
            assert isinstance(value, expected), f"data[{key!r}] is {type(value).__name__}, declared {hints[key]}"

    def test_nics_only_where_networks_are_declared(self, creature_api, creature_cli, usable, template):
        """networks=False: a --network is refused (exit 2) before anything is made."""
        if self._caps(creature_api).networks:
            pytest.skip(f"driver {self.driver} declares networks: its NICs are tested on real networks (tests/networks)")
        before = snapshot(creature_cli.home)
        result = creature_cli("create", "conf-nic", "--driver", self.driver, "--template", template, "--network", "lan")
        assert result.code == 2 and "does not support networks" in result.err, result.err
        assert snapshot(creature_cli.home) == before

    def test_disk_limit_only_where_declared(self, creature_api, creature_cli):
        """disk_limit=False: a --disk is refused (exit 2) before anything is made, on any host."""
        if self._caps(creature_api).disk_limit:
            pytest.skip(f"driver {self.driver} declares disk_limit: its limits are tested on the real hypervisor (tests/quotas)")
        creature_cli.ok("template", "build", "bb", "--method", "busybox")
        before = snapshot(creature_cli.home)
        result = creature_cli("create", "conf-disk", "--driver", self.driver, "--template", "bb", "--disk", "1G")
        assert result.code == 2 and "does not support disk limits (--disk)" in result.err, result.err
        assert snapshot(creature_cli.home) == before

    def test_unusable_driver_refuses_create_and_changes_nothing(self, creature_api, creature_cli):
        """Where the probe fails, create exits 2 with the probe's reason in one line and leaves the home as it was."""
        probe = creature_api.probe(self.driver)
        if probe.usable:
            pytest.skip(f"driver {self.driver} is usable here: its refusal cannot be shown")
        creature_cli.ok("template", "build", "bb", "--method", "busybox")
        before = snapshot(creature_cli.home)
        result = creature_cli("create", "web", "--driver", self.driver, "--template", "bb")
        assert result.code == 2, result.err
        lines = result.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"creature: error: driver '{self.driver}' is not usable on this host")
        failed = next(c for c in probe.checks if not c.ok)
        assert failed.reason in lines[0], "the refusal must carry the probe's reason"
        assert snapshot(creature_cli.home) == before

    def test_lifecycle_api(self, creature_api, template, capfd):
        api = creature_api
        info = api.create({"name": "conf-api", "driver": self.driver, "template": template, "memory": "128M"})
        assert info.driver == self.driver and info.state.value == "stopped"
        assert api.inventory.machine("conf-api") is not None
        api.start("conf-api")
        assert api.state("conf-api").value == "running"
        if self._caps(api).exec:
            def run_exec():
                capfd.readouterr()
                code = api.exec("conf-api", list(self.exec_argv))
                out = capfd.readouterr().out
                return out if code == 0 else None
            assert self.exec_output in self._exec_ready(run_exec)
        result = api.stop("conf-api", timeout=self.stop_timeout)
        assert api.state("conf-api").value == "stopped"
        if self._caps(api).graceful_stop:
            assert not result.forced, "a guest that honours shutdown must stop without being forced"
        api.destroy("conf-api")
        assert api.inventory.machine("conf-api") is None
        assert not (api.home.machines / "conf-api").exists()

    def test_lifecycle_cli(self, creature_cli, template):
        cli = creature_cli
        cli.ok("create", "conf-cli", "--driver", self.driver, "--template", template, "--memory", "128M")
        rows = cli.ok("list", "--format", "json").json()
        assert [(r["name"], r["driver"], r["state"]) for r in rows] == [("conf-cli", self.driver, "stopped")]
        cli.ok("start", "conf-cli")
        assert cli.ok("show", "conf-cli", "--format", "json").json()["state"] == "running"
        from creature.api import Creature

        if self._caps(Creature(cli.home)).exec:
            def run_exec():
                r = cli("exec", "conf-cli", "--", *self.exec_argv)
                return r.out if r.code == 0 else None
            self._exec_ready(run_exec)
        cli.ok("stop", "conf-cli", "--timeout", str(self.stop_timeout))
        assert cli.ok("show", "conf-cli", "--format", "json").json()["state"] == "stopped"
        cli.ok("destroy", "conf-cli")
        assert cli.ok("list", "--format", "json").json() == []
        gone = cli("show", "conf-cli")
        assert gone.code == 2 and "no machine named 'conf-cli'" in gone.err

    def test_start_twice_and_kill(self, creature_api, template):
        api = creature_api
        api.create({"name": "conf-kill", "driver": self.driver, "template": template, "memory": "128M"})
        self._states_agree(api, "conf-kill", "stopped")
        api.start("conf-kill")
        self._states_agree(api, "conf-kill", "running")
        with pytest.raises(CreatureError, match="already running"):
            api.start("conf-kill")
        api.kill("conf-kill")
        assert api.state("conf-kill").value == "stopped"
        self._states_agree(api, "conf-kill", "stopped")
        api.start("conf-kill")
        assert api.state("conf-kill").value == "running"
        with pytest.raises(CreatureError, match="is running"):
            api.destroy("conf-kill")
        api.destroy("conf-kill", force=True)
        assert api.inventory.machine("conf-kill") is None

    def _states_agree(self, api, name: str, expected: str) -> None:
        """The driver's lean states function (if it registers one) says what the driver says, from the bare row."""
        from creature.builtin.commands.listing import Row

        assert api.state(name).value == expected
        function = api.registry.entry(self.driver).states_function()
        if function is None:
            return
        rows = api.inventory._query("SELECT name, driver, spec, data, dir FROM machines WHERE name = ?", (name,))
        lean = function([Row(*rows[0])])
        assert lean.get(name) == expected, f"the states function says {lean.get(name)!r}, the driver {expected!r}"

    def test_details_need_no_driver_module(self, creature_api):
        """A driver with details for `show` keeps them in its lean states module too (show of a stopped machine reads them there)."""
        import importlib

        from creature.drivers import Driver

        entry = creature_api.registry.entry(self.driver)
        if type(creature_api.driver(self.driver)).details is Driver.details:
            pytest.skip(f"driver {self.driver} adds no details to `show`")
        if (creature_api.home.root / "host.json").is_file():
            pytest.skip("machines of another host are shown through its API (`--host`), never from a lean module")
        assert entry.states, "a driver with details registers a states function whose module holds details(machine, home)"
        module = importlib.import_module(entry.states.partition(":")[0])
        assert callable(getattr(module, "details", None)), f"{module.__name__} has no details(machine, home_root)"

    def test_states_function_is_lean(self, creature_api):
        """A registered states function imports neither pydantic nor the driver's module (creature.builtin.commands.listing)."""
        entry = creature_api.registry.entry(self.driver)
        if entry.states is None:
            pytest.skip(f"driver {self.driver} registers no states function: `creature list` imports the driver")
        module = entry.states.partition(":")[0]
        heavy = ["pydantic", entry.target.partition(":")[0]]
        code = f"import importlib, sys; importlib.import_module({module!r}); print([m for m in {heavy!r} if m in sys.modules])"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.strip() == "[]", f"{entry.states} imports {out.strip()}"
