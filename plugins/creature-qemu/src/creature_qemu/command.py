"""The qemu-system-x86_64 command line of a machine: machine type, accelerator, boot, disks, NICs, console, QMP."""

from __future__ import annotations

from pathlib import Path

from creature.sdk import AGENT_PORT, CreatureError, InputError, Machine, Nic, Record, tap_name

from creature_qemu.paths import Paths  # noqa: F401 (re-exported)

QEMU = "qemu-system-x86_64"


class Boot(Record, frozen=True):
    """How the guest boots: a kernel and initrd given to QEMU (direct boot), or the disk's own boot loader."""

    kernel: Path | None = None
    initrd: Path | None = None
    append: str = ""

    @property
    def direct(self) -> bool:
        return self.kernel is not None


def kernel_append(machine: Machine, guest: dict, seed: bool, network: list[str] = ()) -> str:
    """The kernel command line creature's initramfs and guests understand (network: creature.builtin.networks.networks.guest_cmdline's words)."""
    words = ["console=ttyS0", "root=/dev/vda", "rw", "panic=-1", "net.ifnames=0", f"creature.hostname={machine.name}",
             f"creature.agent={AGENT_PORT}"]
    if guest.get("init"):
        words.append(f"init={guest['init']}")
    if guest.get("acpi_signal"):
        words.append(f"creature.acpi={guest['acpi_signal']}")
    if seed:
        words.append("creature.cdrom")
    return " ".join([*words, *network])


def nic_args(machine: Machine, index: int, nic: Nic) -> list[str]:
    """One NIC: a virtio-net on the tap the driver made on the NIC's bridge (tap_name: stable, so plans match starts)."""
    if nic.network is None or nic.mac is None:
        raise InputError(f"machine {machine.name!r}: NIC {index} has no network or MAC (the core assigns both at create)")
    tap = tap_name(machine.name, index)
    # script=no: creature made the tap and plugs it into the bridge itself; QEMU only opens it
    return ["-netdev", f"tap,id=n{index},ifname={tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n{index},mac={nic.mac}"]


def qemu_argv(qemu: str, machine: Machine, accel: str, boot: Boot, seed: Path | None = None,
              prefix: list[str] = ()) -> list[str]:
    """The complete argv that starts machine detached, with its QMP and console sockets in its folder.

    prefix (creature.builtin.networks.networks.bridge_netns) runs QEMU in its NICs' bridge namespace, where their taps are.
    """
    paths = Paths(machine.dir)
    spec = machine.spec
    if accel not in ("tcg", "kvm"):
        raise CreatureError(f"unknown accelerator {accel!r}")
    argv = [
        *prefix, qemu, "-name", machine.name,
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
    # exec's channel: a virtio-serial port named like qemu-ga's, on two FIFOs QEMU holds open (creature.sdk.FifoChannel),
    # so the guest's end is always connected and any creature command can take a turn on it
    argv += ["-device", "virtio-serial-pci,id=vser", "-chardev", f"pipe,id=agent,path={paths.agent}",
             "-device", f"virtserialport,bus=vser.0,chardev=agent,name={AGENT_PORT}"]
    # The log file keeps the guest running while nobody reads the console socket.
    argv += [
        "-chardev", f"socket,id=console,path={paths.console},server=on,wait=off,logfile={paths.console_log}",
        "-serial", "chardev:console",
        "-qmp", f"unix:{paths.qmp},server=on,wait=off",
        "-pidfile", str(paths.pidfile),
        "-daemonize",
    ]
    return argv
