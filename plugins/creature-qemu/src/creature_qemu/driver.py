"""The qemu (TCG) and kvm drivers: qcow2 clones, detached QEMU with QMP and a logged serial console."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from creature import sdk
from creature.sdk import (
    Capabilities,
    Check,
    CreatureError,
    Driver,
    HostFacts,
    InputError,
    Machine,
    MachineData,
    Probe,
    ProcessRecord,
    State,
    StopResult,
    Template,
    run,
    which,
    write_private,
)

from creature_qemu import qmp, snapshots, states, usage
from creature_qemu.command import QEMU, Boot, Paths, kernel_append, nic_args, qemu_argv

PRESS_INTERVAL = 1.0


@contextmanager
def _private_umask():
    """QEMU creates its sockets, pid file and console log with our umask: keep them owner-only."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def guest_settings(template: Template) -> dict:
    """What the boot needs to know about the template's guest (its init, and how it powers off)."""
    meta = template.meta
    guest = {"init": meta.get("init", "/sbin/init")}
    init_system = meta.get("init_system") or ("busybox" if meta.get("os") == "busybox" else None)
    if init_system in ("busybox", "sysvinit") and meta.get("halt_signal"):
        # these inits ignore the ACPI power button: the initramfs's acpid sends them their halt signal
        guest["acpi_signal"] = str(meta["halt_signal"]).removeprefix("SIG")
    return guest


def seed_of(machine: Machine) -> Path | None:
    """The cloud-init NoCloud seed the core made for the machine, attached as a CD-ROM."""
    seed = machine.data.get("cloud_init_seed") or machine.data.get("seed")
    return Path(seed) if seed else None


def _template_file(template: Template, key: str) -> str | None:
    value = template.meta.get(key)
    if not value:
        return None
    path = Path(value)
    return str(path if path.is_absolute() else template.rootfs / path)


class QemuData(MachineData, total=False):
    """QEMU (and KVM) machines: the qcow2 overlay's backing image and how the guest boots."""

    backing: str
    boot: str  # kernel (the host's), template (its own kernel and initrd), disk
    guest: dict
    kernel: str
    initrd: str


class QemuDriver(Driver):
    """Virtual machines under QEMU's software emulation (TCG): runs wherever qemu-system-x86_64 is installed."""

    name = "qemu"
    priority = 10
    mac_prefix = "52:54:00"
    data_model = QemuData
    # snapshots live inside the machine's qcow2 (internal snapshots); a running one includes memory (savevm)
    capabilities = Capabilities(console=True, exec=True, exec_channel="guest agent on a virtio-serial port (qemu-ga, else creature's)",
                                guest_access=True, cloud_init=True, graceful_stop=True, autostart=True, cow_clone=True, vm=True,
                                networks=True, snapshot=True, snapshot_running=True, snapshot_memory=True, export=True,
                                disk_limit=True, stats=True)
    description = "QEMU virtual machines, software emulation (TCG)"
    accel = "tcg"

    # probing
    def _tool_checks(self) -> list[Check]:
        checks = []
        qemu, img = which(QEMU), which("qemu-img")
        # no `qemu --version` here: every start probes, and spawning QEMU costs more than the rest of the start
        checks.append(Check(name="qemu", ok=qemu is not None,
                            reason=f"{qemu} found" if qemu else f"{QEMU} not found (install the Debian package qemu-system-x86)"))
        checks.append(Check(name="qemu-img", ok=img is not None,
                            reason=f"{img} found" if img else "qemu-img not found (install the Debian package qemu-utils)"))
        from creature_qemu.kernel import installed_kernel

        try:
            kernel = installed_kernel()
            checks.append(Check(name="kernel", ok=True, reason=f"guest kernel {kernel.version} ({kernel.bzimage}) with its modules"))
        except CreatureError as exc:
            checks.append(Check(name="kernel", ok=False, reason=str(exc)))
        busybox = which("busybox")
        checks.append(Check(name="initramfs", ok=busybox is not None,
                            reason="busybox found for the guest initramfs" if busybox
                            else "busybox not found (install the Debian package busybox-static) for the guest initramfs"))
        return checks

    def probe(self, host: HostFacts) -> Probe:
        return Probe.of(self.name, self._tool_checks())

    # files
    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        for index, nic in enumerate(machine.spec.nics):
            nic_args(machine, index, nic)  # refuse what cannot start before any file is made
        img = which("qemu-img")
        if img is None:
            raise CreatureError("qemu-img not found (install the Debian package qemu-utils)")
        disk = machine.spec.disk  # MiB: the template's image made in exactly that size, so the guest's filesystem fills it
        if self.dry_run:
            # --dry-run makes nothing outside staging: the template's disk image may not exist yet
            image = template.path / ("disk.ext4" if disk is None else f"disk-{disk}M.ext4")
        else:
            image = sdk.disk_image(self.home, template, disk)
        if image.exists():
            with _private_umask():
                run([img, "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(image), str(staging / "disk.qcow2"),
                     *([f"{disk}M"] if disk is not None else [])], timeout=60)
        data = {"clone": "qcow2", "backing": str(image), "boot": "kernel", "guest": guest_settings(template)}
        kernel, initrd = _template_file(template, "kernel"), _template_file(template, "initrd")
        if kernel and initrd:
            # the template's own kernel matches the modules inside its disk
            data.update(boot="template", kernel=kernel, initrd=initrd)
        if machine.access:
            if data["boot"] != "kernel":
                raise InputError(f"template {template.name!r} boots its own kernel and initrd, which cannot write --ssh-key"
                                 " or --root-password into the guest")
            sdk.write_access(staging, machine.access)  # the initramfs writes them into the guest's disk at boot
        if machine.nocloud is not None:
            data["cloud_init_seed"] = str(machine.dir / sdk.make_seed(staging, machine.name, machine.nocloud).name)
        return data

    def resize_disk(self, machine: Machine, size: int) -> None:
        """Grow the qcow2 overlay and the filesystem in it (sdk.grow_qcow2); it keeps its backing image."""
        sdk.grow_qcow2(Paths(machine.dir).disk, size)

    def stats(self, machines: list[Machine]) -> dict:
        return usage.stats(machines)

    def boot(self, machine: Machine, build: bool = True) -> Boot:
        """Direct kernel boot of the host's Debian kernel (PVH vmlinux) and creature's initramfs, or the disk's loader."""
        method = machine.data.get("boot", "kernel")
        if method == "disk":
            return Boot()
        guest = machine.data.get("guest", {})
        if method == "template":
            # its own initrd finds the root disk; our initramfs's acpid is not there
            guest = {k: v for k, v in guest.items() if k != "acpi_signal"}
            append = kernel_append(machine, guest, seed=False, network=sdk.guest_cmdline(self.home, machine.spec.nics))
            return Boot(kernel=Path(machine.data["kernel"]), initrd=Path(machine.data["initrd"]), append=append)
        from creature_qemu.initramfs import cached_initramfs
        from creature_qemu.kernel import cached_vmlinux, installed_kernel

        kernel = installed_kernel()
        append = kernel_append(machine, guest, seed=seed_of(machine) is not None, network=sdk.guest_cmdline(self.home, machine.spec.nics))
        # with the machine's SSH keys and password hash appended, when it was created with them
        initrd = sdk.boot_initramfs(cached_initramfs(kernel, build), machine.dir, build)
        return Boot(kernel=cached_vmlinux(kernel, build), initrd=initrd, append=append)

    def argv(self, machine: Machine, build: bool = True) -> list[str]:
        """The exact command `start` runs (build=False: without filling the kernel cache first)."""
        qemu = which(QEMU)
        if qemu is None:
            raise CreatureError(f"{QEMU} not found (install the Debian package qemu-system-x86)")
        argv = qemu_argv(qemu, machine, self.accel, self.boot(machine, build), seed_of(machine), sdk.machine_netns(self.home, machine))
        resume = machine.dir / snapshots.LOADVM
        if resume.exists():  # a restore of a snapshot with memory: this start runs on from its saved moment
            argv[argv.index("-daemonize"):argv.index("-daemonize")] = ["-loadvm", resume.read_text().strip()]
        return argv

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        paths = Paths(machine.dir)
        monitor = [sys.executable, "-m", "creature_qemu.qmp", str(paths.qmp)]
        if action == "start":
            return [*sdk.taps_plan(self.home, machine, "create"), self.argv(machine, build=False)]
        if action == "stop":
            # quit only after the timeout; the taps go once QEMU has exited
            return [[*monitor, "system_powerdown"], [*monitor, "quit"], *sdk.taps_plan(self.home, machine, "remove")]
        if action == "kill":
            record = self._record(machine)
            kill = [["kill", "-KILL", str(record.pid)]] if record is not None and record.alive() else []
            return [*kill, *sdk.taps_plan(self.home, machine, "remove")]
        if action == "destroy":
            return []
        raise CreatureError(f"the {self.name} driver has no plan for {action!r}")

    # liveness: the QEMU process pinned by pid, start time and command line; QMP for the guest's state
    def _record(self, machine: Machine) -> ProcessRecord | None:
        return states.record(machine)

    def state(self, machine: Machine) -> State:
        return states.state(machine)

    def states(self, machines: list[Machine]) -> dict[str, State]:
        return states.states(machines)

    def start(self, machine: Machine) -> None:
        paths = Paths(machine.dir)
        argv = self.argv(machine)
        for stale in (paths.pidfile, paths.qmp, paths.console, paths.record):
            stale.unlink(missing_ok=True)
        # QEMU daemonizes with umask 027 and keeps an existing file's mode: make the log owner-only first
        write_private(paths.console_log, "")
        sdk.FifoChannel(paths.agent).make()
        # the taps are plugged already (plug_nics); the core unplugs them if this raises
        with _private_umask():
            run(argv, timeout=120)
        record = None
        try:
            record = ProcessRecord.of(int(paths.pidfile.read_text().strip()))
        except (OSError, ValueError):
            pass
        if record is None:
            raise CreatureError(f"{QEMU} returned but machine {machine.name!r} is not running (see {paths.console_log})")
        write_private(paths.record, json.dumps({"qemu": record.to_dict()}))
        for sock in (paths.qmp, paths.console):
            if sock.exists():
                os.chmod(sock, 0o600)

    def plug_nics(self, machine: Machine) -> None:
        """A tap per NIC on its network's bridge, which QEMU opens by name (ifname=)."""
        sdk.create_taps(self.home, machine)

    def unplug_nics(self, machine: Machine) -> None:
        """Delete the taps: persistent devices outlive the QEMU that opened them."""
        sdk.remove_taps(self.home, machine)

    def _wait_gone(self, record: ProcessRecord | None, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while record is not None and record.alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _forget(self, machine: Machine) -> None:
        """After QEMU is gone: its run files (the core unplugs its taps)."""
        paths = Paths(machine.dir)
        for path in (paths.record, paths.pidfile, paths.qmp, paths.console):
            path.unlink(missing_ok=True)

    def _power_button(self, record: ProcessRecord | None, sock: Path, timeout: float) -> bool:
        """Press the ACPI power button until QEMU exits or timeout passes; True if it exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # pressed again each second: a guest still booting has nobody listening to the first press yet
                qmp.execute(sock, "system_powerdown", timeout=2)
            except qmp.QmpError:
                pass  # the monitor closes while QEMU exits
            if self._wait_gone(record, min(PRESS_INTERVAL, max(0.0, deadline - time.monotonic()))):
                return True
        return self._wait_gone(record, 0)

    def stop(self, machine: Machine, timeout: float) -> StopResult:
        record = self._record(machine)
        sock = Paths(machine.dir).qmp
        if timeout > 0 and self._power_button(record, sock, timeout):
            self._forget(machine)
            return StopResult(forced=False)
        try:
            qmp.execute(sock, "quit")
        except qmp.QmpError:
            pass
        if not self._wait_gone(record, 10):
            self.kill(machine)
        self._forget(machine)
        return StopResult(forced=True)

    def kill(self, machine: Machine) -> None:
        record = self._record(machine)
        if record is not None and record.alive():
            try:
                os.kill(record.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if not self._wait_gone(record, 30):
                raise CreatureError(f"QEMU of {machine.name!r} (pid {record.pid}) did not exit after SIGKILL")
        self._forget(machine)

    def destroy(self, machine: Machine) -> None:
        # a QEMU that crashed or was killed from outside leaves its taps: the machine's end removes them
        if self.state(machine) not in (State.RUNNING, State.PAUSED):
            self.unplug_nics(machine)

    def snapshot_create(self, machine: Machine, snap: str, folder: Path, running: bool) -> dict:
        return snapshots.save(machine, snap, running)

    def snapshot_restore(self, machine: Machine, snap: str, folder: Path, memory: bool) -> None:
        if self.state(machine) in (State.RUNNING, State.PAUSED):
            snapshots.load(machine, snap, running=True)
            return
        if not memory:
            snapshots.load(machine, snap, running=False)
            return
        # QEMU loads a snapshot's memory only into a running machine: start it from there (-loadvm reverts the disk too)
        resume = machine.dir / snapshots.LOADVM
        write_private(resume, snap)
        try:
            self.start(machine)
        finally:
            resume.unlink(missing_ok=True)

    def snapshot_remove(self, machine: Machine, snap: str, folder: Path) -> None:
        snapshots.delete(machine, snap, running=self.state(machine) in (State.RUNNING, State.PAUSED))

    def snapshot_list(self, machine: Machine) -> list[str]:
        return snapshots.names(machine)

    def export_root(self, machine: Machine, scratch: Path) -> tuple[str, Path]:
        return "qcow2", snapshots.flatten(Paths(machine.dir).disk, scratch)

    def console(self, machine: Machine) -> int:
        from creature_qemu.console import attach

        return attach(Paths(machine.dir).console, machine.name)

    def exec(self, machine: Machine, argv: list[str]) -> int:
        """Through the guest agent on the virtio-serial port: the guest's qemu-ga, else the one creature's initramfs starts."""
        return sdk.guest_exec(sdk.FifoChannel(Paths(machine.dir).agent, f"agent channel of {machine.name!r}"), argv)


class KvmDriver(QemuDriver):
    """Virtual machines under QEMU with KVM hardware acceleration, where a test vCPU really runs."""

    name = "kvm"
    priority = 70
    description = "QEMU virtual machines with KVM acceleration"
    accel = "kvm"

    def probe(self, host: HostFacts) -> Probe:
        from creature_qemu.kvm_check import kvm_checks

        return Probe.of(self.name, self._tool_checks() + kvm_checks(host))
