"""The qemu-system-x86_64 command line of a machine: machine type, accelerator, boot, disks, NICs, console, QMP."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from creature.errors import CreatureError, InputError
from creature.model import Machine, Nic

QEMU = "qemu-system-x86_64"
MAC_PREFIX = "52:54:00"


@dataclass(frozen=True)
class Paths:
    """The files of a running machine, all inside its folder (sockets and logs private to root)."""

    dir: Path

    @property
    def disk(self) -> Path:
        return self.dir / "disk.qcow2"

    @property
    def qmp(self) -> Path:
        return self.dir / "qmp.sock"

    @property
    def console(self) -> Path:
        return self.dir / "console.sock"

    @property
    def console_log(self) -> Path:
        return self.dir / "console.log"

    @property
    def pidfile(self) -> Path:
        return self.dir / "qemu.pid"

    @property
    def record(self) -> Path:
        return self.dir / "run.json"


@dataclass(frozen=True)
class Boot:
    """How the guest boots: a kernel and initrd given to QEMU (direct boot), or the disk's own boot loader."""

    kernel: Path | None = None
    initrd: Path | None = None
    append: str = ""

    @property
    def direct(self) -> bool:
        return self.kernel is not None


def default_mac(machine: str, index: int) -> str:
    """A stable MAC under QEMU's OUI for a NIC the operator gave none (a hash of machine name and index)."""
    digest = hashlib.sha256(f"{machine}/{index}".encode()).digest()
    return MAC_PREFIX + "".join(f":{b:02x}" for b in digest[:3])


def kernel_append(machine: Machine, guest: dict, seed: bool) -> str:
    """The kernel command line creature's initramfs and guests understand."""
    words = ["console=ttyS0", "root=/dev/vda", "rw", "panic=-1", "net.ifnames=0", f"creature.hostname={machine.name}"]
    if guest.get("init"):
        words.append(f"init={guest['init']}")
    if guest.get("acpi_signal"):
        words.append(f"creature.acpi={guest['acpi_signal']}")
    if seed:
        words.append("creature.cdrom")
    return " ".join(words)


def nic_args(machine: Machine, index: int, nic: Nic) -> list[str]:
    """One NIC: QEMU user networking for now.

    Creature networks (bridges and taps, `--network lan`) plug in here once the network work lands:
    a `-netdev tap,ifname=...,script=no,downscript=no` made by the creature_network_attach hook.
    """
    if nic.network is not None:
        raise InputError(f"machine {machine.name!r}: the qemu driver does not attach creature networks yet (network {nic.network!r})")
    mac = nic.mac or default_mac(machine.name, index)
    return ["-netdev", f"user,id=net{index}", "-device", f"virtio-net-pci,netdev=net{index},mac={mac}"]


def qemu_argv(qemu: str, machine: Machine, accel: str, boot: Boot, seed: Path | None = None) -> list[str]:
    """The complete argv that starts machine detached, with its QMP and console sockets in its folder."""
    paths = Paths(machine.dir)
    spec = machine.spec
    if accel not in ("tcg", "kvm"):
        raise CreatureError(f"unknown accelerator {accel!r}")
    argv = [
        qemu, "-name", machine.name,
        "-machine", f"q35,accel={accel}",
        "-cpu", "host" if accel == "kvm" else "qemu64",  # qemu64 boots faster than max under TCG
        "-smp", str(spec.cpus), "-m", f"{spec.memory}M",
        "-nodefaults", "-no-user-config", "-display", "none",
        # a guest kernel panic ends QEMU (instead of a reboot loop); the driver then reports the machine crashed
        "-device", "pvpanic", "-action", "panic=exit-failure",
        "-drive", f"file={paths.disk},if=virtio,format=qcow2,discard=unmap",
    ]
    if boot.direct:
        argv += ["-kernel", str(boot.kernel)]
        if boot.initrd is not None:
            argv += ["-initrd", str(boot.initrd)]
        argv += ["-append", boot.append]
    else:
        argv += ["-boot", "order=c"]
    if seed is not None:
        argv += ["-drive", f"file={seed},format=raw,media=cdrom,readonly=on"]
    if spec.nics:
        for index, nic in enumerate(spec.nics):
            argv += nic_args(machine, index, nic)
    else:
        argv += ["-nic", "none"]
    # The log file keeps the guest running while nobody reads the console socket.
    argv += [
        "-chardev", f"socket,id=console,path={paths.console},server=on,wait=off,logfile={paths.console_log}",
        "-serial", "chardev:console",
        "-qmp", f"unix:{paths.qmp},server=on,wait=off",
        "-pidfile", str(paths.pidfile),
        "-daemonize",
    ]
    return argv
