"""Shared helpers for the autostart, host up/down and host service tests: drivers, templates, processes."""

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from creature.procs import ProcessRecord, which
from creature.testing import CLI, Result, require_usable, wait_until

# Every driver's machines join the tests that take a `driver` argument once its probe says it runs here;
# the others skip, naming what is missing.
DRIVERS = ("lxc", "qemu", "kvm", "uml", "libvirt-lxc", "libvirt-qemu", "xen", "vbox", "vmware", "openvz", "vserver", "lguest")


def pytest_generate_tests(metafunc):
    if "driver" in metafunc.fixturenames:
        metafunc.parametrize("driver", DRIVERS)


@pytest.fixture
def busybox(creature_api) -> str:
    """A busybox template in the test's home."""
    creature_api.templates.build("bb", "busybox")
    return "bb"


def _make_stubborn(api, name: str) -> None:
    """Make LXC machine name ignore the shutdown request (before it starts).

    lxc-stop asks a container to halt by sending lxc.signal.halt to its init. Busybox init installs no
    handler for SIGRTMIN+3, and the kernel drops signals without a handler that reach a namespace's init
    from outside, so the request is simply lost and only a forced stop ends the container.
    """
    config = api.machine(name).dir / "config"
    lines = [line for line in config.read_text().splitlines() if not line.startswith("lxc.signal.halt")]
    config.write_text("\n".join(lines + ["lxc.signal.halt = SIGRTMIN+3"]) + "\n")


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        pass
    return found


def _lxc_processes(api, name: str) -> list[ProcessRecord]:
    """The lxc monitor of machine name and every process below it (the container's init and its children)."""
    try:
        monitor = ProcessRecord.from_dict(json.loads((api.machine(name).dir / "run.json").read_text())["monitor"])
    except FileNotFoundError:
        return []
    records, todo = [], [monitor.pid]
    while todo:
        pid = todo.pop()
        record = ProcessRecord.of(pid)
        if record is not None:
            records.append(record)
            todo += _children(pid)
    return records


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain text (an lxc monitor names its lxcpath)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(f"{entry}: {cmdline.strip()}")
    return found


def _simulate_reboot(api, names: list[str]) -> None:
    """What a reboot does to LXC machines: every monitor and container process still alive is SIGKILLed
    (as at a power cut), and the runtime files are gone."""
    records = [r for n in names for r in _lxc_processes(api, n)]
    for record in records:
        if record.alive():
            try:
                os.kill(record.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it ended on its own after alive() (a container's init dies with its monitor)
    wait_until(lambda: not any(r.alive() for r in records), 10, what="the killed lxc processes to disappear")
    for name in names:
        for runtime in ("run.json", "monitor.pid"):
            (api.machine(name).dir / runtime).unlink(missing_ok=True)


def _started_at(api) -> dict[str, list[float]]:
    """Each machine's start times from the inventory's event log."""
    times: dict[str, list[float]] = {}
    for e in api.inventory.events():
        if e["event"] == "started":
            times.setdefault(e["machine"], []).append(e["ts"])
    return times


class NetnsCLI(CLI):
    """The real `creature` command run inside one network namespace (where its bridges and dnsmasq live)."""

    def __init__(self, home: Path, netns: str):
        super().__init__(home)
        self.netns = netns

    def __call__(self, *args: str, timeout: float = 300, **_kwargs) -> Result:
        # nsenter rather than `ip netns exec`, which remounts /sys and hides the cgroups LXC needs
        proc = subprocess.run(
            [which("nsenter"), f"--net=/run/netns/{self.netns}", sys.executable, "-m", "creature", "--home", str(self.home), *args],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def netns_cli(creature_home):
    """`creature` inside a network namespace made for this test; its machines and dnsmasqs are stopped and
    the namespace deleted afterwards, pass or fail."""
    ip, nsenter = which("ip"), which("nsenter")
    if os.geteuid() != 0 or ip is None or nsenter is None:
        pytest.skip("network namespaces need root, ip (iproute2) and nsenter (util-linux)")
    name = f"cra-{secrets.token_hex(4)}"
    subprocess.run([ip, "netns", "add", name], check=True, capture_output=True)
    try:
        subprocess.run([ip, "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True)
        yield NetnsCLI(creature_home, name)
    finally:
        from creature.testing import stop_home

        stop_home(creature_home)
        subprocess.run([ip, "netns", "del", name], capture_output=True)


@pytest.fixture
def tools() -> SimpleNamespace:
    """The helpers above (test modules cannot import conftest under --import-mode=importlib)."""
    return SimpleNamespace(need_driver=require_usable, make_stubborn=_make_stubborn, lxc_processes=_lxc_processes,
                           processes_mentioning=_processes_mentioning, simulate_reboot=_simulate_reboot,
                           started_at=_started_at)
