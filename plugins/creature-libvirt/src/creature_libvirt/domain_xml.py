"""Domain XML from a MachineSpec: a QEMU domain booting its disk directly, or an LXC container on a rootfs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from creature.sdk import AGENT_PORT, Machine

NAMESPACE = "https://creature.invalid/libvirt/1"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _common(machine: Machine, kind: str, uuid: str, home: Path) -> tuple[ET.Element, ET.Element]:
    spec = machine.spec
    domain = ET.Element("domain", type=kind)
    _sub(domain, "name", spec.name)
    _sub(domain, "uuid", uuid)
    _sub(domain, "title", f"creature machine {spec.name}")
    metadata = _sub(domain, "metadata")
    # marks the domain as creature's, and whose: two homes may share one daemon
    ET.SubElement(metadata, f"{{{NAMESPACE}}}machine", home=str(home), template=spec.template)
    _sub(domain, "memory", str(spec.memory), unit="MiB")
    _sub(domain, "vcpu", str(spec.cpus))
    return domain, metadata


def _interfaces(devices: ET.Element, machine: Machine, bridges: list[str], model: str | None) -> None:
    for nic, bridge in zip(machine.spec.nics, bridges, strict=True):
        interface = _sub(devices, "interface", type="bridge")
        _sub(interface, "mac", address=nic.mac)
        _sub(interface, "source", bridge=bridge)
        if model:
            _sub(interface, "model", type=model)


def _text(domain: ET.Element) -> str:
    ET.register_namespace("creature", NAMESPACE)
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode") + "\n"


def qemu_domain(machine: Machine, uuid: str, home: Path, *, emulator: str, disk: Path, kernel: Path, initrd: Path,
                cmdline: str, bridges: list[str], agent_port: str = AGENT_PORT) -> str:
    """A q35 TCG domain: direct kernel boot, one virtio disk (qcow2 over the template image), serial console logged."""
    domain, _ = _common(machine, "qemu", uuid, home)
    os_ = _sub(domain, "os")
    _sub(os_, "type", "hvm", arch="x86_64", machine="q35")
    _sub(os_, "kernel", str(kernel))
    _sub(os_, "initrd", str(initrd))
    _sub(os_, "cmdline", cmdline)
    features = _sub(domain, "features")
    _sub(features, "acpi")
    _sub(domain, "on_poweroff", "destroy")
    _sub(domain, "on_reboot", "restart")
    _sub(domain, "on_crash", "destroy")
    devices = _sub(domain, "devices")
    _sub(devices, "emulator", emulator)
    disk_el = _sub(devices, "disk", type="file", device="disk")
    _sub(disk_el, "driver", name="qemu", type="qcow2", discard="unmap")
    _sub(disk_el, "source", file=str(disk))
    _sub(disk_el, "target", dev="vda", bus="virtio")
    _interfaces(devices, machine, bridges, "virtio")
    serial = _sub(devices, "serial", type="pty")
    # a console nobody reads must not stall the guest, and its output must survive: virtlogd keeps it
    _sub(serial, "log", file=str(machine.dir / "console.log"), append="on")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port="0")
    # the guest agent's port: libvirt connects to it and passes qemuAgentCommand's requests through (exec)
    channel = _sub(devices, "channel", type="unix")
    _sub(channel, "target", type="virtio", name=agent_port)
    _sub(devices, "memballoon", model="none")
    # machine folders are root-only (0700): QEMU runs as root for these domains instead of relabelling them
    label = _sub(domain, "seclabel", type="static", model="dac", relabel="no")
    _sub(label, "label", "+0:+0")
    return _text(domain)


def lxc_domain(machine: Machine, uuid: str, home: Path, *, rootfs: Path, init: str, bridges: list[str]) -> str:
    """A system container on rootfs: a folder, or an ext4 image (--disk) that libvirt mounts through a loop device."""
    domain, _ = _common(machine, "lxc", uuid, home)
    # <vcpu> alone limits nothing in a container: the CFS quota gives it the CPU time of that many CPUs
    tune = _sub(domain, "cputune")
    _sub(tune, "period", "100000")
    _sub(tune, "quota", str(machine.spec.cpus * 100000))
    os_ = _sub(domain, "os")
    _sub(os_, "type", "exe")
    _sub(os_, "init", init)
    _sub(domain, "on_poweroff", "destroy")
    _sub(domain, "on_reboot", "restart")
    _sub(domain, "on_crash", "destroy")
    # Without privnet a container with no NIC shares the host's network namespace, and its init's
    # network scripts (udhcpc deconfig, ifdown, halt -i) then act on the host's own interfaces.
    features = _sub(domain, "features")
    _sub(features, "privnet")
    devices = _sub(domain, "devices")
    _sub(devices, "emulator", "/usr/lib/libvirt/libvirt_lxc")
    if rootfs.suffix == ".ext4":
        filesystem = _sub(devices, "filesystem", type="file", accessmode="passthrough")
        _sub(filesystem, "driver", type="loop", format="raw")
        _sub(filesystem, "source", file=str(rootfs))
    else:
        filesystem = _sub(devices, "filesystem", type="mount", accessmode="passthrough")
        _sub(filesystem, "source", dir=str(rootfs))
    _sub(filesystem, "target", dir="/")
    _interfaces(devices, machine, bridges, None)
    _sub(devices, "console", type="pty")
    return _text(domain)
