"""The qemu driver against real QEMU (TCG): conformance, outside kills, the console, a Debian guest."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest
from creature.testing import DriverConformance, require_usable, snapshot, wait_until

BOOTED = "login:"  # busybox getty on ttyS0 prints this once the guest is up


class TestQemuConformance(DriverConformance):
    driver = "qemu"
    boot_timeout = 60
    stop_timeout = 30


@pytest.fixture
def qemu_api(creature_api):
    """A home with a busybox template and one stopped qemu machine, bb1."""
    require_usable(creature_api, "qemu")
    creature_api.templates.build("bb", "busybox")
    creature_api.create({"name": "bb1", "driver": "qemu", "template": "bb", "memory": "128M"})
    return creature_api


def _console_log(api, name: str) -> str:
    try:
        return (api.machine(name).dir / "console.log").read_text(errors="replace")
    except FileNotFoundError:
        return ""


def wait_booted(api, name: str, timeout: float = 60) -> None:
    wait_until(lambda: BOOTED in _console_log(api, name), timeout, 0.1, f"{name} to print {BOOTED!r} on its console")


def test_clone_is_a_qcow2_overlay_of_the_template_disk(qemu_api):
    api = qemu_api
    machine = api.machine("bb1")
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(machine.dir / "disk.qcow2")],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["format"] == "qcow2"
    assert info["backing-filename"] == str(api.templates.get("bb").path / "disk.ext4")
    assert info["backing-filename-format"] == "raw"
    assert api.info("bb1").clone == "qcow2"
    assert os.stat(machine.dir / "disk.qcow2").st_mode & 0o777 == 0o600


def test_boots_with_its_name_and_private_files(qemu_api):
    api = qemu_api
    started = time.monotonic()
    api.start("bb1")
    wait_booted(api, "bb1")
    booted = time.monotonic() - started
    log = _console_log(api, "bb1")
    assert "creature: bb1 is up" in log  # the hostname came through the kernel command line
    assert booted < 30, f"busybox guest took {booted:.1f} s to boot"
    machine = api.machine("bb1")
    for name in ("console.log", "qemu.pid", "run.json", "qmp.sock", "console.sock"):
        mode = os.stat(machine.dir / name).st_mode & 0o777
        assert mode == 0o600, f"{name} has mode {oct(mode)}"
    assert api.state("bb1").value == "running"


def test_killed_from_outside_is_seen_at_once_and_starts_again(qemu_api, creature_cli):
    api = qemu_api
    api.start("bb1")
    record = json.loads((api.machine("bb1").dir / "run.json").read_text())["qemu"]
    os.kill(record["pid"], signal.SIGKILL)
    wait_until(lambda: api.state("bb1").value == "stopped", 1.0, 0.02, "bb1 to be seen stopped within a second")
    assert creature_cli.ok("list", "--format", "json").json()[0]["state"] in ("stopped", "crashed")
    creature_cli.ok("start", "bb1")
    assert api.state("bb1").value == "running"
    wait_booted(api, "bb1")


def test_forced_stop_when_the_guest_ignores_the_button(qemu_api):
    """With no time for a graceful shutdown, stop quits QEMU and says it was forced."""
    api = qemu_api
    api.start("bb1")
    result = api.stop("bb1", timeout=0)
    assert result.forced
    assert api.state("bb1").value == "stopped"


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"timed out waiting for {needle!r} on the console; got {seen[-300:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                pytest.fail(f"console closed before {needle!r}; got {seen[-300:]!r}")
            seen += chunk
    return seen


def test_console_through_a_pty_detaches_and_guest_keeps_running(qemu_api):
    api = qemu_api
    api.start("bb1")
    wait_booted(api, "bb1")
    pid, fd = pty.fork()
    if pid == 0:  # the child becomes `creature console bb1` on the pty
        os.execv(sys.executable, [sys.executable, "-m", "creature", "--home", str(api.home.root), "console", "bb1"])
    try:
        _read_until(fd, b"Ctrl-] detaches", 20)
        os.write(fd, b"\r")
        _read_until(fd, b"bb1 login:", 20)  # the guest's getty answered through the console socket
        os.write(fd, b"\x1d")
        _read_until(fd, b"keeps running", 10)
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert api.state("bb1").value == "running"
    assert "bb1 login:" in _console_log(api, "bb1")  # what the console showed is in the log too


def test_plan_shows_the_exact_commands(qemu_api):
    api = qemu_api
    machine = api.machine("bb1")
    driver = api.driver("qemu")
    start = driver.plan(machine, "start")
    assert len(start) == 1 and start[0] == driver.argv(machine)
    argv = start[0]
    assert argv[argv.index("-machine") + 1] == "q35,accel=tcg"
    assert "-daemonize" in argv and argv[argv.index("-pidfile") + 1] == str(machine.dir / "qemu.pid")
    assert argv[argv.index("-kernel") + 1].endswith("/vmlinux")
    assert "creature.acpi=USR2" in argv[argv.index("-append") + 1]
    assert driver.plan(machine, "kill") == []  # nothing runs: it is stopped
    stop = driver.plan(machine, "stop")
    assert [s[-1] for s in stop] == ["system_powerdown", "quit"]
    api.start("bb1")
    pid = json.loads((machine.dir / "run.json").read_text())["qemu"]["pid"]
    assert driver.plan(machine, "kill") == [["kill", "-KILL", str(pid)]]
    # the planned QMP command really talks to the running QEMU
    status = subprocess.run([*stop[0][:-1], "query-status"], capture_output=True, text=True, timeout=30)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "running"


def test_seed_and_tap_nics_reach_the_command_line(qemu_api):
    """A seed CD-ROM; each NIC a virtio-net on its stable tap with the NIC's MAC; DHCP asked on the kernel command line."""
    from creature.sdk import Machine, MachineSpec, tap_name

    api = qemu_api
    machine = api.machine("bb1")
    nics = [{"network": "lan", "mac": "52:54:00:aa:bb:01"}, {"network": "lan", "mac": "52:54:00:aa:bb:cc"}]
    spec = MachineSpec.parse({"name": "n1", "driver": "qemu", "template": "bb", "nics": nics})
    other = Machine(spec=spec, dir=machine.dir.parent / "n1", data={**machine.data, "cloud_init_seed": "/tmp/seed.iso"})
    argv = api.driver("qemu").argv(other)
    joined = " ".join(argv)
    assert "file=/tmp/seed.iso,format=raw,media=cdrom,readonly=on" in joined
    append = argv[argv.index("-append") + 1]
    assert "creature.cdrom" in append and "creature.dhcp=eth0,eth1" in append.split()
    assert f"-netdev tap,id=n1,ifname={tap_name('n1', 1)},script=no,downscript=no" in joined
    assert "virtio-net-pci,netdev=n1,mac=52:54:00:aa:bb:cc" in joined and "-nic none" not in joined
    assert "-nic none" in " ".join(api.driver("qemu").argv(machine))
    assert "creature.dhcp" not in " ".join(api.driver("qemu").argv(machine))


@pytest.mark.slow
def test_debian_template_boots_to_its_init(creature_cli, creature_api):
    if not creature_api.probe("qemu").usable:
        pytest.skip(f"qemu is not usable here: {creature_api.probe('qemu').reason}")
    if "debootstrap" not in creature_api.bootstrappers():
        pytest.skip("debootstrap method not registered yet")
    creature_cli.ok("template", "build", "deb", "--method", "debootstrap", "--suite", "bookworm", timeout=900)
    creature_cli.ok("create", "deb1", "--driver", "qemu", "--template", "deb", "--memory", "256M")
    creature_cli.ok("start", "deb1")
    log = creature_api.home.machine_dir("deb1") / "console.log"
    # the switch_root into the Debian disk hands over to its init, which announces itself
    markers = ("systemd[1]", "INIT: version", "Welcome to Debian", "login:")
    wait_until(lambda: any(m in log.read_text(errors="replace") for m in markers), 180, 0.5,
               "the Debian guest's init to write to the console")
    text = log.read_text(errors="replace")
    assert "cannot mount" not in text
    assert "creature.hostname=deb1" in text  # our kernel command line, so our kernel and initramfs booted it
    # sysvinit ignores the power button; the initramfs's acpid turns it into the template's halt signal
    assert not creature_api.stop("deb1", timeout=90).forced


def test_dry_run_shows_commands_and_changes_nothing(qemu_api, creature_cli):
    api = qemu_api
    before = snapshot(api.home.root)
    planned = creature_cli.ok("start", "bb1", "--dry-run").out
    argv = api.driver("qemu").plan(api.machine("bb1"), "start")[0]
    import shlex

    assert shlex.join(argv) in planned
    created = creature_cli.ok("create", "bb2", "--driver", "qemu", "--template", "bb", "--dry-run").out
    assert "disk.qcow2" in created and "system_powerdown" in created and "-daemonize" in created
    assert snapshot(api.home.root) == before
    assert api.state("bb1").value == "stopped"


@pytest.mark.slow
def test_template_kernel_and_initrd_boot_the_disk(qemu_api):
    """boot = template: a kernel and initrd of the guest's own (here Debian's, from /boot) instead of ours."""
    from creature_qemu.kernel import installed_kernel

    kernel = installed_kernel()
    initrd = kernel.bzimage.parent / f"initrd.img-{kernel.version}"
    if not initrd.exists():
        pytest.skip(f"{initrd} is missing (update-initramfs did not run for linux-image-amd64)")
    api = qemu_api
    machine = api.machine("bb1")
    machine.data.update(boot="template", kernel=str(kernel.bzimage), initrd=str(initrd))
    # Debian's initrd unpacks tens of MB into memory: 128M ends in an out-of-memory panic
    machine.spec = machine.spec.replace(memory=384)
    api.inventory.update_machine(machine)
    api.start("bb1")
    wait_booted(api, "bb1", timeout=180)
    log = _console_log(api, "bb1")
    assert "creature: bb1 is up" in log
    assert "creature.acpi" not in log  # our initramfs and its acpid were not used


def _console_session(api, name: str, lines: list[bytes], prompt: bytes = b"# ") -> None:
    """Log in as root on the guest's serial console socket and type lines (busybox root has no password)."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(api.machine(name).dir / "console.sock"))
    try:
        fd = sock.fileno()
        sock.sendall(b"\r")
        _read_until(fd, b"login:", 30)
        sock.sendall(b"root\r")
        _read_until(fd, prompt, 30)
        for line in lines:
            sock.sendall(line + b"\r")
        time.sleep(0.5)
    finally:
        sock.close()


def test_guest_kernel_panic_is_reported_crashed_and_starts_again(qemu_api, creature_cli):
    api = qemu_api
    api.start("bb1")
    wait_booted(api, "bb1")
    _console_session(api, "bb1", [b"echo c > /proc/sysrq-trigger"])
    wait_until(lambda: api.state("bb1").value == "crashed", 60, 0.2, "the panicked guest to be reported crashed")
    assert "Kernel panic - not syncing" in _console_log(api, "bb1")
    assert creature_cli.ok("list", "--format", "json").json()[0]["state"] == "crashed"
    creature_cli.ok("start", "bb1")
    assert api.state("bb1").value == "running"
