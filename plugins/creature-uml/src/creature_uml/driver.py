"""The User Mode Linux driver: linux.uml run detached on a copy-on-write disk, stopped through mconsole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from creature import sdk
from creature.sdk import (
    HANDOVER,
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
    ProcessRecord,
    State,
    StopResult,
    Template,
    netns_argv,
    remove_tree,
    run,
    which,
    write_private,
)

from creature_uml import command, kernels, states, usage
from creature_uml.tmpdir import exec_tmpdir

BOOT_TIMEOUT = 30
EXIT_TIMEOUT = 30
RESTART_LINE = b"reboot: Restarting system"
INIT_GRACE = 0.5


def _group_members(pgid: int, record: ProcessRecord) -> list[int]:
    """Live processes of UML's process group that it started: its forks and its userspace stubs.

    A member started before the recorded UML cannot be one of its own (the group id is only ours while
    a process of ours holds it). Older UML forks itself per guest address space (its own command line);
    6.13 and later exec a stub from a memfd there, which has no command line (nor has a fork inside execve).
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] == "Z" or int(fields[2]) != pgid or int(fields[19]) < record.start_time:
                continue
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError):
            continue
        if argv in (record.cmdline, ""):
            found.append(int(entry))
    return found


class UmlData(MachineData, total=False):
    """UML machines: the template image under the COW file, the guest's init (initramfs: set by older creatures, unused)."""

    image: str
    init: str
    initramfs: bool


class UmlDriver(CopySnapshots, Driver):
    """User Mode Linux: the guest kernel is an ordinary host process, its disk a UML COW file over the template image."""

    name = "uml"
    priority = 30
    mac_prefix = "fe:fd:00"  # UML's own locally administered prefix
    data_model = UmlData
    # snapshots: copies of the machine's COW file (its backing image is the template's, never written); a running
    # guest's dirty pages are in its own kernel (mconsole `stop` would give a pulled-plug copy), so running is refused
    capabilities = Capabilities(console=True, exec=True, exec_channel="creature's agent on a serial line (ttyS1 on two FIFOs)",
                                guest_access=True, cow_clone=True, graceful_stop=True, autostart=True, vm=True, networks=True,
                                snapshot=True, export=True, disk_limit=True, stats=True)
    description = "User Mode Linux (linux.uml: a fetched newer kernel, or the Debian package user-mode-linux)"

    def __init__(self, home):
        super().__init__(home)
        self._chosen = None

    def probe(self, host: HostFacts) -> Probe:
        checks = [self._kernel_check()]
        for tool, package in (("uml_mconsole", "uml-utilities"), ("uml_mkcow", "uml-utilities"),
                              ("mkfs.ext4", "e2fsprogs"), ("kill", "procps")):
            path = which(tool)
            checks.append(Check(name=tool, ok=path is not None,
                                reason=f"{path} found" if path else f"{tool} not found (install the Debian package {package})"))
        tmpdir, rejected = exec_tmpdir()
        passed = f" (passed over: {'; '.join(rejected)})" if rejected else ""
        checks.append(Check(name="tmpdir", ok=tmpdir is not None,
                            reason=f"guest memory files go in {tmpdir}, which allows executable mappings{passed}" if tmpdir
                            else f"no folder for UML's memory file allows executable mappings: {'; '.join(rejected)}"))
        tun = Path("/dev/net/tun")
        checks.append(Check(name="tun", ok=True,
                            reason="/dev/net/tun present for tap NICs" if tun.exists()
                            else "/dev/net/tun missing: machines run, but without network interfaces"))
        return Probe.of(self.name, checks)

    def _kernel(self) -> tuple[kernels.Kernel | None, kernels.Verdict | None, list]:
        """The kernel this driver boots (kernels.choose), looked up once per driver object."""
        if self._chosen is None:
            self._chosen = kernels.choose(self.home)
        return self._chosen

    def _kernel_check(self) -> Check:
        try:
            kernel, judged, tried = self._kernel()
        except CreatureError as exc:
            return Check(name="kernel", ok=False, reason=str(exc))
        if not tried:
            return Check(name="kernel", ok=False, reason=f"no UML kernel: linux.uml is not on PATH (Debian package"
                                                         f" user-mode-linux) and none was fetched. Fix: {kernels.FIX}")
        if kernel is None:
            return Check(name="kernel", ok=False, reason="no UML kernel here runs a user process: "
                                                         + "; ".join(v.reason for _, v in tried))
        passed = [v.reason for k, v in tried if k != kernel]
        return Check(name="kernel", ok=judged.ok,
                     reason=judged.reason + (f" (passed over: {'; '.join(passed)})" if passed else ""))

    def _boot_kernel(self) -> tuple[kernels.Kernel, str]:
        """The kernel to start machines with and its release, or the reason none can run here."""
        kernel, judged, _ = self._kernel()
        if kernel is None or not judged.ok:
            raise CreatureError(self._kernel_check().reason)
        return kernel, judged.release

    def details(self, machine: Machine) -> dict[str, str]:
        """The UML kernel a machine booted or will boot (creature_uml.states.details, which `show` also calls alone)."""
        return states.details(machine, self.home.root)

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        command.check_socket_path(machine)
        if machine.spec.cpus != 1:
            raise InputError(f"UML machines have one virtual CPU: --cpus {machine.spec.cpus} cannot take effect")
        command.nic_options(machine)
        data = {"clone": "uml-cow"}
        if self.dry_run:
            # the template's image is made on first use, outside staging: a dry run names it and makes nothing
            data["image"] = str(template.path / ("disk.ext4" if machine.spec.disk is None else f"disk-{machine.spec.disk}M.ext4"))
        else:
            # with --disk, the template's image made in exactly that size (creature_uml.disks)
            image = sdk.disk_image(self.home, template, machine.spec.disk)
            cow = staging / command.cow_file(machine).name
            # the COW header names the backing image; the COW file's own path may change (staging is renamed)
            run([command.tool("uml_mkcow", "uml-utilities"), str(cow), str(image)], timeout=60)
            os.chmod(cow, 0o600)
            data["image"] = str(image)
        if template.meta.get("init"):
            data["init"] = template.meta["init"]
        # every guest boots through creature's initramfs: the driver cannot write into the shared image, so the
        # initramfs writes the guest's network, hostname, keys and password into the machine's COW, and starts the agent
        sdk.write_access(staging, machine.access)
        return data

    def resize_disk(self, machine: Machine, size: int) -> None:
        """A new private backing image, grown on the host, under a fresh COW file (creature_uml.disks)."""
        from creature_uml.disks import grow

        machine.data["image"] = grow(machine, size)

    def stats(self, machines: list[Machine]) -> dict:
        return usage.stats(machines)

    def _boot_argv(self, machine: Machine, kernel: kernels.Kernel, release: str, tmpdir: str, build: bool) -> list[str]:
        """kernel's command line (build=False: name the initramfs and modules image without making them, for plans)."""
        from creature_uml.initramfs import cached_initramfs
        from creature_uml.modules import image_path, modules_image

        initrd = sdk.boot_initramfs(cached_initramfs(build), machine.dir, build)
        modules = modules_image(kernel, release) if build else image_path(kernel, release)
        return command.boot_argv(machine, kernel.path, tmpdir, sdk.machine_netns(self.home, machine),
                                 sdk.guest_cmdline(self.home, machine.spec.nics), initrd, modules)

    def plug_nics(self, machine: Machine) -> None:
        """A tap per NIC on its network's bridge, which UML opens by name (vec{i}:transport=tap,ifname=)."""
        sdk.create_taps(self.home, machine)

    def unplug_nics(self, machine: Machine) -> None:
        """Delete the taps: persistent devices outlive the UML that opened them."""
        sdk.remove_taps(self.home, machine)

    # liveness: UML's main process, pinned by pid, start time and command line; its helpers share its group
    def _run_info(self, machine: Machine) -> tuple[ProcessRecord | None, int | None]:
        return states.run_info(machine)

    def _mconsole_argv(self, machine: Machine, *request: str) -> list[str]:
        """uml_mconsole run in the running UML's network namespace (see command.mconsole_argv)."""
        record, _ = self._run_info(machine)
        # uml_mconsole takes UML's reply on an abstract unix socket, and those exist per network namespace: from
        # any other (creature outside its bridge's namespace) the request arrives but the reply never does
        prefix = netns_argv(record.pid) if record is not None and record.alive() else []
        return [*prefix, *command.mconsole_argv(machine, *request)]

    def state(self, machine: Machine) -> State:
        return states.states([machine])[machine.name]

    def states(self, machines: list[Machine]) -> dict[str, State]:
        return states.states(machines)

    def _leftovers(self, machine: Machine) -> tuple[bool, list[int]]:
        record, pgid = self._run_info(machine)
        if record is None or pgid is None:
            return False, []
        return record.alive(), _group_members(pgid, record)

    def _console_tail(self, machine: Machine, lines: int = 5) -> str:
        try:
            text = command.console_log(machine).read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())

    def start(self, machine: Machine) -> None:
        tmpdir, rejected = exec_tmpdir()
        if tmpdir is None:
            raise CreatureError(f"no folder for UML's memory file allows executable mappings: {'; '.join(rejected)}")
        kernel, release = self._boot_kernel()
        self._reap(machine)
        argv = self._boot_argv(machine, kernel, release, tmpdir, build=True)
        sdk.FifoChannel(command.agent_fifos(machine)).make()
        try:
            self._launch(machine, argv, f"{kernel.path} (UML {release}; {kernel.origin})")
        except BaseException:
            # UML did not come up: nothing of this run stays (its processes, its taps)
            self._reap(machine)
            raise

    def _launch(self, machine: Machine, argv: list[str], kernel: str) -> None:
        # a umid folder left by a killed UML makes the next boot refuse the umid
        remove_tree(command.uml_dir(machine))
        command.uml_dir(machine).mkdir(mode=0o700)
        log = os.open(command.console_log(machine), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            # procs.run waits for its command; UML is the machine itself and must outlive this process
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, umask=0o077, cwd=machine.dir)
        except FileNotFoundError as exc:
            raise CreatureError(f"{exc.filename} is not installed") from None
        finally:
            os.close(log)
        # recorded before UML is up, so a start interrupted now still leaves the machine findable and killable
        forked = ProcessRecord.of(proc.pid)
        if forked is not None:
            record = ProcessRecord(proc.pid, forked.start_time, command.exec_cmdline(argv))
            write_private(machine.dir / "run.json", json.dumps({"uml": record.to_dict(), "pgid": proc.pid, "kernel": kernel}))
        pidfile, socket = command.pid_file(machine), command.mconsole_socket(machine)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            code = proc.poll()
            if code is not None:
                raise CreatureError(f"linux.uml exited with status {code} while starting {machine.name!r}: {self._console_tail(machine)}")
            # UML writes its pid file and binds mconsole itself: both there means it has exec'd and can be stopped
            try:
                ready = int(pidfile.read_text().strip()) == proc.pid and socket.exists()
            except (OSError, ValueError):
                ready = False
            if ready:
                break
            if time.monotonic() > deadline:
                self._kill_group(proc.pid, ProcessRecord.of(proc.pid))
                raise CreatureError(f"linux.uml did not come up within {BOOT_TIMEOUT} s: {self._console_tail(machine)}")
            time.sleep(0.01)
        record = ProcessRecord.of(proc.pid)
        if record is None or record.cmdline != command.exec_cmdline(argv):
            raise CreatureError(f"linux.uml of {machine.name!r} exited right after starting: {self._console_tail(machine)}")
        write_private(machine.dir / "run.json", json.dumps({"uml": record.to_dict(), "pgid": proc.pid, "kernel": kernel}))

    def _wait_gone(self, machine: Machine, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            alive, members = self._leftovers(machine)
            if not alive and not members:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def _kill_group(self, pgid: int, record: ProcessRecord | None) -> None:
        members = _group_members(pgid, record) if record is not None else []
        if (record is not None and record.alive()) or members:
            # the group cannot be another's while our members are in it; check=False: it may empty meanwhile
            run(command.kill_argv(pgid, members), check=False, timeout=10)

    def _reap(self, machine: Machine) -> None:
        """Kill what is left of the last run (helpers outliving a killed main process) and forget the run."""
        record, pgid = self._run_info(machine)
        if record is not None and pgid is not None:
            deadline = time.monotonic() + EXIT_TIMEOUT
            # again every second: a guest rebooting as it is killed re-execs and forks helpers after the first signal,
            # and a loaded host can take seconds to tear down a large guest's memory
            while True:
                self._kill_group(pgid, record)
                if self._wait_gone(machine, 1.0):
                    break
                if time.monotonic() > deadline:
                    alive, members = self._leftovers(machine)
                    raise CreatureError(f"UML processes of {machine.name!r} survived SIGKILL: {[record.pid] if alive else []}{members}")
        (machine.dir / "run.json").unlink(missing_ok=True)

    def _log_size(self, machine: Machine) -> int:
        try:
            return command.console_log(machine).stat().st_size
        except OSError:
            return 0

    def _restarted_since(self, machine: Machine, offset: int) -> bool:
        try:
            with open(command.console_log(machine), "rb") as f:
                f.seek(offset)
                return RESTART_LINE in f.read()
        except OSError:
            return False

    def _wait_for_init(self, machine: Machine, deadline: float) -> None:
        """Until init runs, the kernel answers ctrl-alt-del with an immediate restart: let init take it over first."""
        # through the initramfs the kernel's "Run /init" names the initramfs's script, not the guest's init
        line = HANDOVER.encode()

        def init_started():
            try:
                return line in command.console_log(machine).read_bytes()
            except OSError:
                return False
        if init_started():
            return
        while time.monotonic() < deadline and self.state(machine) == State.RUNNING:
            if init_started():
                time.sleep(INIT_GRACE)  # init disables the kernel's ctrl-alt-del restart first thing
                return
            time.sleep(0.02)

    def stop(self, machine: Machine, timeout: float) -> StopResult:
        if timeout > 0:
            deadline = time.monotonic() + timeout
            self._wait_for_init(machine, deadline)
            offset = self._log_size(machine)
            # ctrl-alt-del: the guest's init shuts down (busybox runs ::ctrlaltdel:/sbin/poweroff) and UML exits
            asked = run(self._mconsole_argv(machine, "cad"), check=False, timeout=10)
            while asked.returncode == 0 and time.monotonic() < deadline:
                alive, members = self._leftovers(machine)
                if not alive and not members:
                    self._reap(machine)
                    return StopResult(forced=False)
                # sysvinit and systemd map ctrl-alt-del to reboot, and UML reboots by re-executing itself: the
                # guest has shut down cleanly by the time the kernel says it restarts, so end the process there
                if self._restarted_since(machine, offset):
                    self.kill(machine)
                    return StopResult(forced=False)
                time.sleep(0.02)
        self.kill(machine)
        return StopResult(forced=True)

    def kill(self, machine: Machine) -> None:
        self._reap(machine)

    def destroy(self, machine: Machine) -> None:
        self._reap(machine)
        self.unplug_nics(machine)  # a UML that died on its own left its taps

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        """start: the taps, linux.uml; stop: mconsole cad, then (only after the timeout) the group kill; kill: the group
        kill; both then delete the taps."""
        if action == "start":
            tmpdir, rejected = exec_tmpdir()
            if tmpdir is None:
                raise CreatureError(f"no folder for UML's memory file allows executable mappings: {'; '.join(rejected)}")
            kernel, judged, tried = self._kernel()
            # a plan names a kernel even where none works here: the first candidate, else linux.uml on PATH
            if kernel is None:
                kernel, judged = tried[0] if tried else (kernels.Kernel(Path("linux.uml"), "PATH"), None)
            argv = self._boot_argv(machine, kernel, judged.release if judged else "", tmpdir, build=False)
            return [*sdk.taps_plan(self.home, machine, "create"), argv]
        if action == "destroy":
            return []
        if action not in ("stop", "kill"):
            raise InputError(f"unknown action {action!r} (known: start, stop, kill, destroy)")
        record, pgid = self._run_info(machine)
        if record is None or pgid is None or not record.alive():
            return []
        kill = command.kill_argv(pgid)
        unplug = sdk.taps_plan(self.home, machine, "remove")
        return [self._mconsole_argv(machine, "cad"), kill, *unplug] if action == "stop" else [kill, *unplug]

    def snapshot_paths(self, machine: Machine) -> list[Path]:
        return [command.cow_file(machine)]

    def export_root(self, machine: Machine, scratch: Path) -> tuple[str, Path]:
        """The COW file merged with its backing image (uml_moo), as a compact qcow2."""
        merged, flat = scratch / "disk.raw", scratch / "disk.qcow2"
        run([command.tool("uml_moo", "uml-utilities"), str(command.cow_file(machine)), str(merged)], timeout=3600)
        run([command.tool("qemu-img", "qemu-utils"), "convert", "-q", "-f", "raw", "-O", "qcow2", str(merged), str(flat)],
            timeout=3600)
        merged.unlink()
        return "qcow2", flat

    def console_device(self, machine: Machine, timeout: float = BOOT_TIMEOUT) -> str:
        """The host pty of the guest's tty1, as UML reports it over mconsole once the guest has opened the line."""
        argv = self._mconsole_argv(machine, "config", f"con{command.CONSOLE_LINE}")
        deadline = time.monotonic() + timeout
        while True:
            # early in boot the line is unknown ("ERR Bad configuration option"), then "pts" until a getty opens it
            reply = run(argv, check=False, timeout=10).stdout.strip()
            device = reply.removeprefix("OK").strip().removeprefix("pts:")
            if reply.startswith("OK") and device.startswith("/dev/"):
                return device
            if time.monotonic() > deadline or self.state(machine) != State.RUNNING:
                raise CreatureError(f"UML did not report a pty for the console of {machine.name!r}: {reply!r}")
            time.sleep(0.1)

    def exec(self, machine: Machine, argv: list[str]) -> int:
        """Through creature's agent, which the initramfs starts on the guest's ttyS1 (UML's mconsole has no exec)."""
        return sdk.guest_exec(sdk.FifoChannel(command.agent_fifos(machine), f"agent channel of {machine.name!r}"), argv)

    def console(self, machine: Machine) -> int:
        from creature_uml.console import attach

        device = self.console_device(machine)
        print(f"creature: attached to the console of {machine.name} on {device} (Ctrl-] detaches)", file=sys.stderr)
        return attach(device)
