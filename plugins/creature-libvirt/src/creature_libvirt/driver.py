"""The libvirt-qemu and libvirt-lxc drivers: creature machines as persistent libvirt domains, local or remote."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import ClassVar

from creature.sdk import (
    AGENT_PORT,
    Address,
    Capabilities,
    Check,
    CopySnapshots,
    CreatureError,
    Driver,
    HostFacts,
    InputError,
    Machine,
    MachineData,
    Probe,
    State,
    StopResult,
    Template,
    boot_initramfs,
    bridge_for,
    ext4_image,
    grow_ext4,
    grow_qcow2,
    guest_cmdline,
    guest_nics,
    host_uri,
    remove_tree,
    run,
    which,
    write_access,
    write_private,
)
from creature.sdk import adjust_guest as adjust

# libvirt's virDomainState numbers (stable ABI), so that this module imports without libvirt
_STATES = {0: State.UNKNOWN, 1: State.RUNNING, 2: State.RUNNING, 3: State.PAUSED, 4: State.RUNNING,
           5: State.STOPPED, 6: State.CRASHED, 7: State.PAUSED}
_SHUTOFF = 5
_LEASE, _AGENT, _ARP = 0, 1, 2
_SIGNALS = {"SIGINT": 2, "SIGUSR1": 10, "SIGUSR2": 12, "SIGTERM": 15, "SIGPWR": 30}  # VIR_DOMAIN_PROCESS_SIGNAL_*  # VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_*


class LibvirtData(MachineData, total=False):
    """libvirt domains: the domain's UUID and the URI of the daemon that holds it."""

    uuid: str
    uri: str
    halt_signal: str


class LibvirtDriver(Driver):
    """Shared by both drivers: the URI, the connection, the lifecycle through libvirt's own calls."""

    _undefine_flags = 0

    scheme: ClassVar[str]
    default_uri: ClassVar[str]
    uri_env: ClassVar[str]

    @property
    def uri(self) -> str:
        """The host's URI for a remote host's home, else the environment's, else libvirt's system URI."""
        remote = host_uri(self.home)
        if remote:
            return remote_uri(remote, self.scheme)
        return os.environ.get(self.uri_env) or self.default_uri

    @property
    def connection(self):
        from creature_libvirt.connection import Connection

        return Connection.to(self.uri)

    def _libvirt_checks(self) -> tuple[list[Check], object | None]:
        from creature_libvirt.connection import libvirt

        if libvirt is None:
            return [Check(name="libvirt-python", ok=False, reason="libvirt-python is not installed")], None
        try:
            conn = self.connection.handle()
            version = self.connection.call("getLibVersion")
        except CreatureError as exc:
            return [Check(name="connect", ok=False, reason=str(exc))], None
        major, minor = divmod(version // 1000, 1000)
        return [Check(name="connect", ok=True, reason=f"libvirt {major}.{minor} answers at {self.uri}")], conn

    def _domain(self, machine: Machine):
        return self.connection.domain(machine.data["uuid"])

    def _define(self, machine: Machine, xml: str) -> None:
        if self.dry_run:
            return
        domain = self.connection.call("defineXML", xml)
        if machine.spec.autostart:
            self.connection.call("setAutostart", 1, target=domain)

    def state(self, machine: Machine) -> State:
        domain = self._domain(machine)
        code, _reason = self.connection.call("state", target=domain)
        return _STATES.get(code, State.UNKNOWN)

    def states(self, machines: list[Machine]) -> dict[str, State]:
        """One bulk query for every domain of the daemon, whatever the number of machines."""
        found = self.connection.states()
        return {m.name: _STATES.get(found[m.data["uuid"]][0], State.UNKNOWN) if m.data.get("uuid") in found
                else State.UNKNOWN for m in machines}

    def reach(self) -> None:
        """Raise creature_libvirt.connection.Unreachable unless the daemon answers now."""
        self.connection.ping()

    def start(self, machine: Machine) -> None:
        domain = self._domain(machine)
        self.connection.call("setAutostart", int(machine.spec.autostart), target=domain)
        self.connection.call("create", target=domain)

    def _wait_shutoff(self, domain, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.connection.call("state", target=domain)[0] != _SHUTOFF:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _ask_shutdown(self, machine: Machine, domain) -> None:
        raise NotImplementedError

    def stop(self, machine: Machine, timeout: float) -> StopResult:
        from creature_libvirt.connection import Unreachable

        domain = self._domain(machine)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # asked again each second: a guest still booting has nobody listening to the first request yet
                self._ask_shutdown(machine, domain)
            except Unreachable:
                raise
            except CreatureError:
                pass  # "init pid is not yet available" right after a start: ask again in a moment
            if self._wait_shutoff(domain, min(1.0, max(0.0, deadline - time.monotonic()))):
                return StopResult(forced=False)
        self.kill(machine)
        return StopResult(forced=True)

    def kill(self, machine: Machine) -> None:
        domain = self._domain(machine)
        if self.connection.call("state", target=domain)[0] != _SHUTOFF:
            self.connection.call("destroy", target=domain)

    def destroy(self, machine: Machine) -> None:
        if not machine.data.get("uuid"):
            return
        try:
            domain = self._domain(machine)
        except CreatureError:
            return  # already undefined (by hand, or by an earlier attempt)
        # direct kernel boot: no NVRAM to remove
        self.connection.call("undefineFlags", self._undefine_flags, target=domain)

    def addresses(self, machine: Machine) -> list[Address]:
        """Addresses from libvirt's own sources: its DHCP leases, then the guest agent, then the ARP table."""
        if not machine.spec.nics:
            return []  # no NIC, no address: spare the daemon a round trip per domain in listings
        import ipaddress  # here and uuid in create: start and stop need neither

        domain = self._domain(machine)
        found: list[Address] = []
        for source, name in ((_LEASE, "libvirt-lease"), (_AGENT, "libvirt-agent"), (_ARP, "libvirt-arp")):
            try:
                interfaces = self.connection.call("interfaceAddresses", source, target=domain)
            except CreatureError:
                continue  # no agent, or this source unsupported by the driver
            for iface in interfaces.values():
                for addr in iface.get("addrs") or []:
                    # a guest agent reports every interface, the guest's loopback too
                    if not ipaddress.ip_address(addr["addr"]).is_loopback:
                        found.append(Address(mac=iface.get("hwaddr"), ip=addr["addr"], source=name))
            if found:
                break
        return found

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        # libvirt is driven through its API; these are the virsh commands an operator would type for the same
        virsh = ["virsh", "--connect", self.uri]
        if action == "start":
            return [[*virsh, "start", machine.name]]
        if action == "stop":
            return [[*virsh, "shutdown", machine.name], [*virsh, "destroy", machine.name]]
        if action == "kill":
            return [[*virsh, "destroy", machine.name]]
        if action == "destroy":
            return [[*virsh, "undefine", machine.name]]
        raise NotImplementedError(action)

    def stats(self, machines: list[Machine]) -> dict:
        from creature_libvirt.usage import stats

        return stats(self, machines)

    def console(self, machine: Machine) -> int:
        from creature_libvirt.console import attach

        return attach(self.connection, self._domain(machine), machine.name)

    def forward_events(self, api) -> int:
        """Tell api's plugins (creature_machine_event) every lifecycle change libvirt reports on its home's machines.

        Changes made outside creature (virsh, a guest powering off, libvirt's own autostart) reach
        plugins too, for as long as this process lives; returns libvirt's callback id.
        """
        from creature_libvirt.events import forward

        return forward(self, api)


def remote_uri(uri: str, scheme: str) -> str:
    """A host's URI (qemu+ssh://h/system) for another libvirt driver (lxc+ssh://h/system)."""
    head, sep, rest = uri.partition("://")
    if not sep:
        return uri
    transport = head.partition("+")[2]
    return f"{scheme}{'+' + transport if transport else ''}://{rest}"


class LibvirtQemuDriver(LibvirtDriver):
    """QEMU/KVM virtual machines as libvirt domains (TCG here: domain type qemu), booting the template's disk."""

    name = "libvirt-qemu"
    priority = 25  # below lxc and uml: a host's default stays what it was before libvirt was installed
    mac_prefix = "52:54:00"
    data_model = LibvirtData
    # snapshots through libvirt's snapshot API: internal qcow2 snapshots, a running domain's with its memory
    capabilities = Capabilities(console=True, exec=True, exec_channel="libvirt's guest agent API (qemu-ga, else creature's agent)",
                                guest_access=True, remote=True, graceful_stop=True, autostart=True, cow_clone=True,
                                networks=True, vm=True, snapshot=True, snapshot_running=True, snapshot_memory=True, export=True,
                                disk_limit=True, stats=True)
    description = "QEMU virtual machines through libvirt (qemu:///system or a remote URI)"
    scheme = "qemu"
    default_uri = "qemu:///system"
    uri_env = "CREATURE_LIBVIRT_QEMU_URI"

    def _ask_shutdown(self, machine: Machine, domain) -> None:
        self.connection.call("shutdownFlags", 1, target=domain)  # VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN

    def exec(self, machine: Machine, argv: list[str]) -> int:
        """Through libvirt's guest agent API: the guest's qemu-ga, else the agent creature's initramfs starts."""
        from creature.sdk import guest_exec

        from creature_libvirt.guest_exec import AgentChannel

        return guest_exec(AgentChannel(self.connection, self._domain(machine), machine.name), argv)

    _undefine_flags = 2  # VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA: the snapshots go with the domain (and its qcow2)

    def snapshot_create(self, machine: Machine, snap: str, folder: Path, running: bool) -> dict:
        """virDomainSnapshotCreateXML: of a running domain, disk and memory (a full system checkpoint); else the disk."""
        from creature_libvirt.snapshots import create

        return create(self.connection, self._domain(machine), machine.dir / "disk.qcow2", snap, running)

    def snapshot_restore(self, machine: Machine, snap: str, folder: Path, memory: bool) -> None:
        """virDomainRevertToSnapshot: a snapshot with memory leaves the domain running (libvirt starts it if needed)."""
        domain = self._domain(machine)
        self.connection.call("revertToSnapshot", self._snapshot(domain, snap), 0, target=domain)

    def snapshot_remove(self, machine: Machine, snap: str, folder: Path) -> None:
        domain = self._domain(machine)
        if snap in self.snapshot_list(machine):
            self.connection.call("delete", 0, target=self._snapshot(domain, snap))

    def snapshot_list(self, machine: Machine) -> list[str]:
        return [s.getName() for s in self.connection.call("listAllSnapshots", 0, target=self._domain(machine))]

    def _snapshot(self, domain, snap: str):
        return self.connection.call("snapshotLookupByName", snap, 0, target=domain)

    def export_root(self, machine: Machine, scratch: Path) -> tuple[str, Path]:
        """The domain's qcow2 with its backing image merged in (qemu-img convert), without its snapshots."""
        flat = scratch / "disk.qcow2"
        run([which("qemu-img") or "qemu-img", "convert", "-q", "-f", "qcow2", "-O", "qcow2", str(machine.dir / "disk.qcow2"),
             str(flat)], timeout=3600)
        return "qcow2", flat

    def probe(self, host: HostFacts) -> Probe:
        checks, conn = self._libvirt_checks()
        if conn is not None:
            caps = self.connection.call("getCapabilities")
            has_qemu = "<domain type='qemu'" in caps
            checks.append(Check(name="domain type", ok=has_qemu,
                                reason="QEMU domains (TCG) available" if has_qemu
                                else f"libvirt at {self.uri} offers no QEMU domains (install libvirt-daemon-driver-qemu)"))
        img = which("qemu-img")
        checks.append(Check(name="qemu-img", ok=img is not None, reason=img or "qemu-img not found (Debian package qemu-utils)"))
        try:
            from creature_libvirt.boot import newest_kernel

            version, image = newest_kernel()
            checks.append(Check(name="kernel", ok=True, reason=f"guest kernel {version} ({image})"))
        except CreatureError as exc:
            checks.append(Check(name="kernel", ok=False, reason=str(exc)))
        busybox = which("busybox")
        checks.append(Check(name="initramfs", ok=busybox is not None,
                            reason=f"initramfs from {busybox}" if busybox else "busybox not found (Debian package busybox-static)"))
        return Probe.of(self.name, checks)

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        from uuid import uuid4

        from creature.sdk import disk_image

        from creature_libvirt.boot import boot_files
        from creature_libvirt.domain_xml import qemu_domain

        disk = machine.spec.disk  # MiB: the template's image made in that size, under a qcow2 volume of that size
        if not self.dry_run:  # a dry run shows the domain XML without making the template's image or the disk
            base = disk_image(self.home, template, disk)
            run([which("qemu-img") or "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base),
                 str(staging / "disk.qcow2"), *([f"{disk}M"] if disk is not None else [])], timeout=60)
            os.chmod(staging / "disk.qcow2", 0o600)
        kernel, initrd = boot_files()
        if write_access(staging, machine.access) is not None:
            # the shared initramfs with the machine's keys and password hash appended, in its folder (0600)
            initrd = machine.dir / boot_initramfs(initrd, staging, build=not self.dry_run).name
        halt = str(template.meta.get("halt_signal", "SIGUSR2")).removeprefix("SIG")
        words = ["console=ttyS0", "root=/dev/vda", "rw", "panic=-1", "net.ifnames=0", "quiet",
                 f"creature.hostname={machine.name}", f"creature.acpi={halt}", f"creature.agent={AGENT_PORT}",
                 *guest_cmdline(self.home, machine.spec.nics)]  # the NICs' DHCP or static configuration
        uuid = str(uuid4())
        bridges = [bridge_for(self.home, nic) for nic in machine.spec.nics]
        xml = qemu_domain(machine, uuid, self.home.root, emulator=which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64",
                          disk=machine.dir / "disk.qcow2", kernel=kernel, initrd=initrd, cmdline=" ".join(words),
                          bridges=bridges)
        write_private(staging / "domain.xml", xml)
        self._define(machine, xml)
        return {"uuid": uuid, "uri": self.uri, "clone": "qcow2"}

    def resize_disk(self, machine: Machine, size: int) -> None:
        """Grow the qcow2 volume and the filesystem in it (sdk.grow_qcow2) while the domain is shut off."""
        grow_qcow2(machine.dir / "disk.qcow2", size)


class LibvirtLxcDriver(CopySnapshots, LibvirtDriver):
    """System containers as libvirt LXC domains, on a copy of the template's root filesystem."""

    name = "libvirt-lxc"
    priority = 15
    mac_prefix = "00:16:3e"
    data_model = LibvirtData
    # libvirt's LXC driver has no snapshot API: snapshots are copies of the container's rootfs, taken while it is
    # stopped (libvirt's LXC freezer suspend is not used: see docs/snapshots.md)
    capabilities = Capabilities(console=True, exec=True, exec_channel="the container's namespaces (libvirt's lxcOpenNamespace)",
                                guest_access=True, cloud_init=True, remote=True, graceful_stop=True, autostart=True,
                                cow_clone=False, networks=True, snapshot=True, export=True, disk_limit=True, stats=True)
    description = "LXC containers through libvirt (lxc:///system or a remote URI)"
    scheme = "lxc"
    default_uri = "lxc:///system"
    uri_env = "CREATURE_LIBVIRT_LXC_URI"

    def snapshot_paths(self, machine: Machine) -> list[Path]:
        return [machine.dir / "rootfs"]

    def export_root(self, machine: Machine, scratch: Path) -> tuple[str, Path]:
        return "rootfs", machine.dir / "rootfs"

    def _ask_shutdown(self, machine: Machine, domain) -> None:
        # libvirt's own LXC shutdown sends SIGTERM, which a busybox init takes as "reboot" (and libvirt
        # restarts the container): send the template's own power-off signal to the container's init instead
        signum = _SIGNALS.get(machine.data.get("halt_signal", "SIGPWR"), 30)
        self.connection.call("sendProcessSignal", 1, signum, 0, target=domain)

    def probe(self, host: HostFacts) -> Probe:
        checks, conn = self._libvirt_checks()
        if conn is not None:
            kind = self.connection.call("getType")
            checks.append(Check(name="driver", ok=kind == "LXC",
                                reason=f"libvirt's {kind} driver at {self.uri}" if kind == "LXC"
                                else f"{self.uri} is a {kind} driver, not LXC"))
        checks.append(Check(name="root", ok=host.is_root, reason="running as root" if host.is_root
                            else "libvirt LXC containers are privileged: creature must run as root"))
        return Probe.of(self.name, checks)

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        from uuid import uuid4

        from creature_libvirt.domain_xml import lxc_domain

        # libvirt LXC mounts one folder as the root: without overlay support there, the clone is a copy
        run(["cp", "-a", "--reflink=auto", str(template.rootfs), str(staging / "rootfs")], timeout=600)
        adjust(staging / "rootfs", machine.name, guest_nics(self.home, machine.spec.nics), container=True,
               access=machine.access, nocloud=machine.nocloud)
        rootfs = machine.dir / "rootfs"
        if machine.spec.disk is not None:
            # the root is an ext4 image of the machine's size, which libvirt loop-mounts in the container's namespace
            rootfs = machine.dir / "rootfs.ext4"
            if not self.dry_run:  # a dry run shows the XML; the image would only be its bytes
                ext4_image(staging / rootfs.name, machine.spec.disk, staging / "rootfs")
                remove_tree(staging / "rootfs")
        uuid = str(uuid4())
        bridges = [bridge_for(self.home, nic) for nic in machine.spec.nics]
        xml = lxc_domain(machine, uuid, self.home.root, rootfs=rootfs,
                         init=template.meta.get("init", "/sbin/init"), bridges=bridges)
        write_private(staging / "domain.xml", xml)
        self._define(machine, xml)
        return {"uuid": uuid, "uri": self.uri, "clone": "copy", "halt_signal": template.meta.get("halt_signal", "SIGPWR")}

    def exec(self, machine: Machine, argv: list[str]) -> int:
        """In the container's namespaces, which libvirt hands out (local daemons only), with the caller's stdio."""
        from creature_libvirt.guest_exec import lxc_exec

        return lxc_exec(self.connection, self._domain(machine), machine.name, argv)

    def resize_disk(self, machine: Machine, size: int) -> None:
        """Grow the root filesystem's image (no loop device holds it while the domain is shut off)."""
        if machine.spec.disk is None:
            raise InputError(f"machine {machine.name!r} was created without --disk: its root folder has no limit to grow")
        grow_ext4(machine.dir / "rootfs.ext4", size)
