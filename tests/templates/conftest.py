"""One Debian template per test session (debootstrap is slow; its tarball cache lives in the shared cache)."""

from dataclasses import dataclass
from pathlib import Path

import pytest
from creature.testing import CLI, cleanup_home, make_home, require_usable


@dataclass
class DebianHome:
    """A session home holding the template deb12 (bookworm minbase), with its CLI and API."""

    home: Path
    cli: CLI
    api: object
    build_seconds: float


@pytest.fixture(scope="session")
def debian():
    """deb12 built once through the real CLI; the home (and every machine in it) is removed at the end."""
    import time

    from creature.api import Creature
    from creature.procs import which

    if which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (Debian package debootstrap; `make apt` installs it)")
    home = make_home()
    try:
        cli = CLI(home)
        started = time.monotonic()
        cli.ok("template", "build", "deb12", "--method", "debootstrap", "--suite", "bookworm", "--variant", "minbase",
               timeout=1800)
        api = Creature(home)
        yield DebianHome(home, cli, api, time.monotonic() - started)
        api.inventory.close()
    finally:
        cleanup_home(home)


@pytest.fixture
def lxc(debian):
    """The session home, when the LXC driver can run here (fails instead of skipping where CI requires lxc)."""
    require_usable(debian.api, "lxc")
    return debian


@pytest.fixture
def machines(debian):
    """Names of machines a test creates in the session home: killed and destroyed after the test, pass or fail."""
    names: list[str] = []
    yield names
    from creature.state import State

    for name in names:
        machine = debian.api.inventory.machine(name)
        if machine is None:
            continue
        driver = debian.api.driver(machine.driver)
        if driver.state(machine) in (State.RUNNING, State.PAUSED):
            driver.kill(machine)
        debian.api.destroy(name, force=True)
