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
import select
import shutil
import subprocess
import sys
import tempfile
import time
import tty
from dataclasses import dataclass
from pathlib import Path

import pytest

from creature.errors import CreatureError


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


def stop_home(home: Path) -> None:
    """Kill every running machine of home and stop its networks' dnsmasq (processes creature started for it)."""
    from creature.api import Creature
    from creature.model import State

    if not (home / "inventory.sqlite").exists():
        return
    api = Creature(home)
    for machine in api.inventory.machines():
        try:
            driver = api.driver(machine.driver)
            if driver.state(machine) in (State.RUNNING, State.PAUSED):
                driver.kill(machine)
        except Exception as exc:  # keep cleaning the others; say what was left
            print(f"creature.testing: stopping {machine.name} failed: {exc}", file=sys.stderr)
    for network in api.networks.list():
        try:
            api.networks.dnsmasq(network).stop()
        except Exception as exc:
            print(f"creature.testing: stopping network {network.name} failed: {exc}", file=sys.stderr)
    api.inventory.close()


def cleanup_home(home: Path) -> None:
    """Stop everything of home, destroy its machines, then remove it: runs even when a test failed."""
    from creature.api import Creature

    stop_home(home)
    if (home / "inventory.sqlite").exists():
        api = Creature(home)
        for machine in api.inventory.machines():
            try:
                api.driver(machine.driver).destroy(machine)
            except Exception as exc:  # keep cleaning the others; say what was left
                print(f"creature.testing: cleanup of {machine.name} failed: {exc}", file=sys.stderr)
        api.inventory.close()
    shutil.rmtree(home, ignore_errors=True)


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


class DriverConformance:
    """The lifecycle every driver must pass, through the Python API and through the CLI.

    Subclasses set `driver`, and may set the template method and options,
    the command exec runs and what it prints, and the time a guest needs
    to boot far enough to run it.
    """

    driver: str = ""
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
        from creature.drivers import Driver

        driver = creature_api.driver(self.driver)
        for capability, method in (("exec", "exec"), ("console", "console"), ("placement", "nodes"),
                                   ("migrate", "migrate"), ("failover", "failover")):
            implemented = getattr(type(driver), method) is not getattr(Driver, method)
            assert implemented == getattr(driver.capabilities, capability), (
                f"capability {capability}={getattr(driver.capabilities, capability)} but the method {method} is "
                f"{'implemented' if implemented else 'not implemented'}"
            )

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
        from creature.listing import Row

        assert api.state(name).value == expected
        function = api.registry.entry(self.driver).states_function()
        if function is None:
            return
        rows = api.inventory._query("SELECT name, driver, spec, data, dir FROM machines WHERE name = ?", (name,))
        lean = function([Row(*rows[0])])
        assert lean.get(name) == expected, f"the states function says {lean.get(name)!r}, the driver {expected!r}"

    def test_states_function_is_lean(self, creature_api):
        """A registered states function imports neither pydantic nor the driver's module (creature.listing)."""
        entry = creature_api.registry.entry(self.driver)
        if entry.states is None:
            pytest.skip(f"driver {self.driver} registers no states function: `creature list` imports the driver")
        module = entry.states.partition(":")[0]
        heavy = ["pydantic", entry.target.partition(":")[0]]
        code = f"import importlib, sys; importlib.import_module({module!r}); print([m for m in {heavy!r} if m in sys.modules])"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.strip() == "[]", f"{entry.states} imports {out.strip()}"
