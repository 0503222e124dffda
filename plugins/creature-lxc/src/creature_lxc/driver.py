"""The LXC driver: lxc-* tools with a private lxcpath, overlayfs clones, pid-checked liveness."""

from __future__ import annotations

import json
import math
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from creature.sdk import (
    Capabilities,
    Check,
    CommandFailed,
    CopySnapshots,
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
    bridge_for,
    ext4_image,
    grow_ext4,
    guest_nics,
    known_tools,
    netns_argv,
    remove_tree,
    run,
    which,
    write_private,
)
from creature.sdk import adjust_guest as adjust

from creature_lxc import states, usage

TOOLS = ("lxc-start", "lxc-stop", "lxc-attach", "lxc-console", "lxc-info")
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _net_lines(machine: Machine) -> list[str]:
    """One veth per NIC, its host end put on the network's bridge by net-up.N; no NIC gives only loopback."""
    if not machine.spec.nics:
        return ["lxc.net.0.type = empty"]
    lines = []
    for i, nic in enumerate(machine.spec.nics):
        lines += [f"lxc.net.{i}.type = veth", f"lxc.net.{i}.hwaddr = {nic.mac}", f"lxc.net.{i}.name = eth{i}",
                  f"lxc.net.{i}.flags = up", f"lxc.net.{i}.script.up = {machine.dir / f'net-up.{i}'}"]
    return lines


def _net_up_script(ip: str, bridge: str) -> str:
    # Not lxc.net.N.link: LXC looks the bridge up in /sys/class/net, which shows another network
    # namespace than ours when creature runs under `nsenter --net`; ip asks the kernel by netlink.
    return f'#!/bin/sh\n# written by creature: put the veth host end (arg 5) on bridge {bridge}\nexec {ip} link set dev "$5" master {bridge} up\n'


def _mount_script(machine: Machine, mount: str) -> str:
    # In the container's mount namespace (lxc.hook.pre-mount): the mount, and with it the loop device (autoclear),
    # is gone once the container has stopped, however it stopped; the host's mount table never sees it.
    return (f"#!/bin/sh\n# written by creature: mount the writable layer's image (--disk {machine.spec.disk}M) before LXC mounts\n"
            f"# the overlay rootfs whose upper dir is inside it\nexec {mount} -o loop {usage.disk_image(machine)} {usage.disk_mount(machine)}\n")


def _config(machine: Machine, template: Template, rootfs: str, host: HostFacts) -> str:
    spec = machine.spec
    lines = [
        "# written by creature; `creature` owns this container",
        f"lxc.uts.name = {spec.name}",
        f"lxc.rootfs.path = {rootfs}",
        *([f"lxc.hook.pre-mount = {machine.dir / 'mount-disk'}"] if spec.disk is not None else []),
        "lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed",
        *_net_lines(machine),
        f"lxc.init.cmd = {template.meta.get('init', '/sbin/init')}",
        f"lxc.signal.halt = {template.meta.get('halt_signal', 'SIGPWR')}",
        "lxc.tty.max = 1",
        "lxc.pty.max = 16",
        "lxc.apparmor.profile = unconfined",
        f"lxc.console.logfile = {machine.dir / 'console.log'}",
        f"lxc.log.file = {machine.dir / 'lxc.log'}",
        "lxc.log.level = WARN",
    ]
    quota = spec.cpus * 100000
    if "memory" in host.cgroup_v1_controllers:
        lines.append(f"lxc.cgroup.memory.limit_in_bytes = {spec.memory}M")
        if "cpu" in host.cgroup_v1_controllers:
            lines += ["lxc.cgroup.cpu.cfs_period_us = 100000", f"lxc.cgroup.cpu.cfs_quota_us = {quota}"]
    elif "memory" in host.cgroup_v2_controllers:
        lines += [f"lxc.cgroup2.memory.max = {spec.memory * 1024 * 1024}", f"lxc.cgroup2.cpu.max = {quota} 100000"]
    return "\n".join(lines) + "\n"


class LxcData(MachineData, total=False):
    """LXC containers: only how the rootfs was cloned (overlayfs or copy)."""

    pass  # the core's keys (clone) are all it keeps


class LxcDriver(CopySnapshots, Driver):
    """LXC system containers through the lxc-* tools, each under the creature home's lxcpath."""

    name = "lxc"
    priority = 50
    mac_prefix = "00:16:3e"
    data_model = LxcData
    # snapshots: copies of the overlay's upper folder (or the copied rootfs); a running container is frozen meanwhile
    capabilities = Capabilities(console=True, exec=True, exec_channel="lxc-attach", guest_access=True, cloud_init=True,
                                cow_clone=True, graceful_stop=True, autostart=True, networks=True,
                                snapshot=True, snapshot_running=True, export=True, disk_limit=True, stats=True)
    description = "LXC system containers (lxc-* tools)"

    @property
    def lxcpath(self) -> str:
        return str(self.home.machines)

    def _argv(self, tool: str, machine: Machine, *args: str) -> list[str]:
        path = known_tools("lxc", TOOLS, ("--version",))["paths"].get(tool) if tool in TOOLS else which(tool)
        if path is None:
            raise CreatureError(f"{tool} is not installed (Debian package lxc)")
        return [*self._netns(machine, tool), path, "-P", self.lxcpath, "-n", machine.name, *args]

    def _netns(self, machine: Machine, tool: str) -> list[str]:
        # LXC's control socket is an abstract unix socket: it exists only in the network namespace
        # lxc-start ran in, which is the monitor's; later calls from elsewhere must enter it.
        if tool == "lxc-start":
            return []
        monitor = self._monitor(machine)
        return netns_argv(monitor.pid) if monitor is not None and monitor.alive() else []

    def probe(self, host: HostFacts) -> Probe:
        checks = []
        # remembered until a tool changes: `lxc-start --version` at every command cost more than the command
        found = known_tools("lxc", TOOLS, ("--version",))
        missing = [t for t in TOOLS if found["paths"].get(t) is None]
        if missing:
            checks.append(Check(name="tools", ok=False, reason=f"{', '.join(missing)} not found (install the Debian package lxc)"))
        else:
            checks.append(Check(name="tools", ok=True, reason=f"lxc-* tools {found['version']} found"))
        checks.append(Check(name="root", ok=host.is_root,
                            reason="running as root (privileged containers)" if host.is_root
                            else "creature-lxc runs privileged containers and needs root"))
        missing_ns = [ns for ns in ("mnt", "uts", "ipc", "pid", "net") if not Path(f"/proc/self/ns/{ns}").exists()]
        checks.append(Check(name="namespaces", ok=not missing_ns,
                            reason=f"kernel lacks namespaces: {', '.join(missing_ns)}" if missing_ns else "mnt, uts, ipc, pid and net namespaces"))
        memory = "memory" in host.cgroup_v1_controllers or "memory" in host.cgroup_v2_controllers
        checks.append(Check(name="cgroups", ok=memory,
                            reason="memory cgroup controller available" if memory else "no memory cgroup controller (memory limits impossible)"))
        overlay = "overlay" in host.filesystems
        checks.append(Check(name="clone", ok=True,
                            reason="overlayfs: containers clone their template copy-on-write" if overlay
                            else "no overlayfs: each container gets a full copy of its template"))
        return Probe.of(self.name, checks)

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        disk = machine.spec.disk
        if disk is not None and "overlay" not in HostFacts().filesystems:
            raise InputError("--disk limits an LXC container's overlay upper layer, and this kernel has no overlayfs")
        if disk is not None:
            # the upper layer lives in an ext4 image of its own: writing past it is ENOSPC inside, never on the host
            (staging / "disk").mkdir(mode=0o700)
            upper = staging / ".layer" / "delta"
            upper.mkdir(mode=0o755, parents=True)
            rootfs, clone = f"overlay:{template.rootfs}:{usage.disk_mount(machine) / 'delta'}", "overlayfs"
        elif "overlay" in HostFacts().filesystems:
            upper = staging / "delta"
            upper.mkdir(mode=0o755)
            rootfs, clone = f"overlay:{template.rootfs}:{machine.dir / 'delta'}", "overlayfs"
        else:
            upper = staging / "rootfs"
            run(["cp", "-a", "--reflink=auto", str(template.rootfs), str(upper)])
            rootfs, clone = f"dir:{machine.dir / 'rootfs'}", "copy"
        nics = guest_nics(self.home, machine.spec.nics)
        adjust(upper, machine.name, nics, base=template.rootfs, container=True, access=machine.access, nocloud=machine.nocloud)
        if disk is not None:
            if which("mount") is None:
                raise CreatureError("mount is not installed (Debian package mount): LXC's hook mounts the disk image with it")
            write_private(staging / "mount-disk", _mount_script(machine, which("mount")), 0o700)
            if not self.dry_run:  # a dry run shows the config and the hook; the image would only be its bytes
                ext4_image(staging / usage.disk_image(machine).name, disk, upper.parent, label="upper", reserved=0)
            remove_tree(upper.parent)
        if machine.spec.nics and which("ip") is None:
            raise CreatureError("ip is not installed (Debian package iproute2): needed to plug NICs into bridges")
        for i, nic in enumerate(machine.spec.nics):
            write_private(staging / f"net-up.{i}", _net_up_script(which("ip"), bridge_for(self.home, nic)), 0o700)
        write_private(staging / "config", _config(machine, template, rootfs, HostFacts()))
        return {"clone": clone}

    def resize_disk(self, machine: Machine, size: int) -> None:
        """Grow the ext4 image holding the container's writable layer (nothing mounts it while the container is stopped)."""
        if machine.spec.disk is None:
            raise InputError(f"machine {machine.name!r} was created without --disk: its writable layer has no limit to grow")
        grow_ext4(usage.disk_image(machine), size)

    def stats(self, machines: list[Machine]) -> dict:
        return usage.stats(machines)

    # liveness: the lxc monitor process, pinned by pid, start time and command line
    def _monitor(self, machine: Machine) -> ProcessRecord | None:
        return states.monitor(machine)

    def state(self, machine: Machine) -> State:
        return states.states([machine])[machine.name]

    def states(self, machines: list[Machine]) -> dict[str, State]:
        return states.states(machines)

    def _lxc_errors(self, machine: Machine) -> str:
        try:
            lines = (machine.dir / "lxc.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [line.split(" - ", 1)[-1] for line in lines if " ERROR " in line]
        return " | ".join(errors[-3:])

    def start(self, machine: Machine) -> None:
        pidfile = machine.dir / "monitor.pid"
        pidfile.unlink(missing_ok=True)
        (machine.dir / "lxc.log").unlink(missing_ok=True)
        proc = run(self._argv("lxc-start", machine, "-d", "-p", str(pidfile)), check=False, timeout=120)
        if proc.returncode != 0:
            detail = self._lxc_errors(machine) or proc.stderr.strip()
            raise CommandFailed(["lxc-start"], proc.returncode, detail)
        record = None
        try:
            record = ProcessRecord.of(int(pidfile.read_text().strip()))
        except (OSError, ValueError):
            pass
        if record is None:
            raise CreatureError(f"lxc-start returned but machine {machine.name!r} is not running: {self._lxc_errors(machine)}")
        write_private(machine.dir / "run.json", json.dumps({"monitor": record.to_dict()}))

    def _wait_gone(self, machine: Machine, timeout: float = 10) -> None:
        monitor = self._monitor(machine)
        deadline = time.monotonic() + timeout
        while monitor is not None and monitor.alive():
            if time.monotonic() > deadline:
                raise CreatureError(f"the lxc monitor of {machine.name!r} (pid {monitor.pid}) did not exit")
            time.sleep(0.02)
        (machine.dir / "run.json").unlink(missing_ok=True)

    def stop(self, machine: Machine, timeout: float) -> StopResult:
        forced = True
        if timeout > 0:
            proc = run(self._argv("lxc-stop", machine, "--nokill", "-t", str(max(1, math.ceil(timeout)))), check=False,
                       timeout=timeout + 30)
            forced = proc.returncode != 0 and self.state(machine) == State.RUNNING
        if forced:
            self.kill(machine)
        self._wait_gone(machine)
        return StopResult(forced=forced)

    def kill(self, machine: Machine) -> None:
        proc = run(self._argv("lxc-stop", machine, "-k"), check=False, timeout=60)
        if proc.returncode != 0 and self.state(machine) == State.RUNNING:
            raise CommandFailed(["lxc-stop", "-k"], proc.returncode, proc.stderr)
        self._wait_gone(machine)

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        if action == "start":
            return [self._argv("lxc-start", machine, "-d", "-p", str(machine.dir / "monitor.pid"))]
        if action == "stop":
            return [self._argv("lxc-stop", machine, "--nokill", "-t", "30"), self._argv("lxc-stop", machine, "-k")]
        if action == "kill":
            return [self._argv("lxc-stop", machine, "-k")]
        if action == "destroy":
            return []  # nothing outside the machine's folder, which the core removes
        raise NotImplementedError(action)

    def _root(self, machine: Machine) -> Path:
        """What the container changed: the overlay's upper folder, or the whole rootfs of a copied clone."""
        return machine.dir / ("delta" if machine.data.get("clone", "overlayfs") == "overlayfs" else "rootfs")

    def snapshot_paths(self, machine: Machine) -> list[Path]:
        # with --disk the upper folder lives in an image that only the container's own mount namespace mounts
        return [usage.disk_image(machine) if machine.spec.disk is not None else self._root(machine)]

    def snapshot_create(self, machine: Machine, snap: str, folder: Path, running: bool) -> dict:
        if running and machine.spec.disk is not None:
            # freezing the processes does not flush the image's filesystem, mounted in the container alone
            raise InputError(f"machine {machine.name!r} keeps its writable layer in a --disk image: snapshot it stopped")
        return super().snapshot_create(machine, snap, folder, running)

    @contextmanager
    def snapshot_frozen(self, machine: Machine):
        """lxc-freeze (the freezer cgroup) for the copy, lxc-unfreeze after it, whatever happened."""
        run(self._argv("lxc-freeze", machine), timeout=60)
        try:
            yield
        finally:
            run(self._argv("lxc-unfreeze", machine), timeout=60)

    def export_root(self, machine: Machine, scratch: Path) -> tuple[str, Path]:
        """The overlay's upper folder (merged over the template by the caller), or the copied rootfs."""
        if machine.spec.disk is not None:
            # its upper folder is inside an ext4 image; reading it would need a loop mount (debugfs loses whiteouts
            # and setuid bits), which export does not do: refused, not exported without the machine's changes
            raise InputError(f"machine {machine.name!r} keeps its writable layer in a --disk image, which export cannot"
                             " read yet: not exported")
        root = self._root(machine)
        return ("overlay" if root.name == "delta" else "rootfs"), root

    def exec(self, machine: Machine, argv: list[str]) -> int:
        full = self._argv("lxc-attach", machine, "--clear-env", "-v", f"PATH={GUEST_PATH}", "-v", "TERM=xterm", "--", *argv)
        return subprocess.call(full)

    def console(self, machine: Machine) -> int:
        print("creature: attached to the console of", machine.name, "(Ctrl-a q detaches)")
        return subprocess.call(self._argv("lxc-console", machine, "-t", "1"))
