"""The Lguest driver: the lguest launcher as a detached process, pinned by pid, start time and command line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from creature.sdk import (
    Capabilities,
    Check,
    CreatureError,
    Driver,
    HostFacts,
    Machine,
    MachineData,
    Probe,
    ProcessRecord,
    State,
    StopResult,
    Template,
    derived_mac,
    disk_image,
    run,
    tool,
    tool_check,
    write_private,
)

from creature_lguest.launcher import LguestGuest, launcher_argv

DEVICE = Path("/dev/lguest")
REMOVED_IN = (4, 14)
ARGV_FILE = "lguest.argv.json"
DEFAULT_BRIDGE = "lgbr0"


def host_kernel(boot: Path = Path("/boot")) -> Path:
    """The newest /boot/vmlinuz-* (a guest kernel must be built with CONFIG_LGUEST_GUEST)."""
    def version_key(path: Path):
        return [int(p) if p.isdigit() else p for p in re.split(r"[.-]", path.name.removeprefix("vmlinuz-"))]

    kernels = sorted(boot.glob("vmlinuz-*"), key=version_key)
    if not kernels:
        raise CreatureError(f"no guest kernel for lguest: no {boot}/vmlinuz-* and the template sets no 'kernel'")
    return kernels[-1]


class LguestData(MachineData, total=False):
    """Lguest guests: the template image copied and the NICs' MACs."""

    base_image: str
    macs: list


class LguestDriver(Driver):
    """Lguest paravirtualised guests (Linux before 4.14) through the lguest launcher."""

    name = "lguest"
    priority = 5
    # Lguest has no OUI of its own: a locally administered prefix
    mac_prefix = "02:4c:47"
    data_model = LguestData
    capabilities = Capabilities(graceful_stop=False, autostart=True, vm=True)
    description = "Lguest guests (lguest launcher; Linux before 4.14)"

    def probe(self, host: HostFacts) -> Probe:
        version = ".".join(str(v) for v in host.kernel_version)
        if host.kernel_version >= REMOVED_IN:
            kernel = Check(name="kernel", ok=False,
                           reason=f"Lguest was removed from Linux in 4.14; this kernel is {version} ({host.kernel_release})")
        elif not DEVICE.exists():
            kernel = Check(name="kernel", ok=False,
                           reason=f"{DEVICE} is missing: load the lg module (kernel {version} built with CONFIG_LGUEST)")
        else:
            kernel = Check(name="kernel", ok=True, reason=f"kernel {version} with {DEVICE}")
        launcher = tool_check("launcher", "lguest", label="lguest launcher",
                              missing="the lguest launcher is not found (build tools/lguest from a Linux source before 4.14)")
        return Probe.of(self.name, [kernel, launcher])

    def _guest(self, machine: Machine, template: Template, block: Path) -> LguestGuest:
        kernel = Path(template.meta["kernel"]) if template.meta.get("kernel") else host_kernel()
        initrd = Path(template.meta["initrd"]) if template.meta.get("initrd") else None
        nics = [(nic.network or DEFAULT_BRIDGE, nic.mac or derived_mac(self.mac_prefix, machine.name, i))
                for i, nic in enumerate(machine.spec.nics)]
        # lguest's virtio block device is vda; its console is hvc0
        args = ["root=/dev/vda", "rw", "console=hvc0", f"creature.hostname={machine.name}"]
        return LguestGuest(memory=machine.spec.memory, kernel=kernel, initrd=initrd, block=block, nics=nics, args=args)

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        base = disk_image(self.home, template)
        run(["cp", "--sparse=always", str(base), str(staging / "disk.img")], timeout=600)
        (staging / "disk.img").chmod(0o600)
        guest = self._guest(machine, template, machine.dir / "disk.img")
        write_private(staging / ARGV_FILE, json.dumps(launcher_argv(tool("lguest"), guest), indent=2) + "\n")
        return {"clone": "copy", "base_image": str(base), "macs": [mac for _, mac in guest.nics]}

    def _argv(self, machine: Machine) -> list[str]:
        return json.loads((machine.dir / ARGV_FILE).read_text())

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        if action == "create":
            return [["cp", "--sparse=always", str(machine.data.get("base_image", "TEMPLATE/disk.ext4")), str(machine.dir / "disk.img")]]
        if action == "start":
            return [self._argv(machine)] if (machine.dir / ARGV_FILE).exists() else [[tool("lguest"), "..."]]
        if action in ("stop", "kill", "destroy", "state", "list"):
            # the launcher is one process: stop and kill are signals to it, state is its pid record
            return []
        raise CreatureError(f"the lguest driver has no plan for {action!r}")

    def _record(self, machine: Machine) -> ProcessRecord | None:
        try:
            return ProcessRecord.from_dict(json.loads((machine.dir / "run.json").read_text()).get("launcher"))
        except (OSError, ValueError):
            return None

    def state(self, machine: Machine) -> State:
        record = self._record(machine)
        return State.RUNNING if record is not None and record.alive() else State.STOPPED

    def start(self, machine: Machine) -> None:
        fd = os.open(machine.dir / "console.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            proc = subprocess.Popen(self._argv(machine), stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, start_new_session=True)
        finally:
            os.close(fd)
        time.sleep(0.2)
        if proc.poll() is not None:
            raise CreatureError(f"the lguest launcher exited at once (status {proc.returncode}): see {machine.dir / 'console.log'}")
        record = ProcessRecord.of(proc.pid)
        write_private(machine.dir / "run.json", json.dumps({"launcher": record.to_dict() if record else None}))

    def stop(self, machine: Machine, timeout: float) -> StopResult:
        self.kill(machine)
        return StopResult(forced=True)

    def kill(self, machine: Machine) -> None:
        record = self._record(machine)
        if record is not None and record.alive():
            os.kill(record.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while record.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
        (machine.dir / "run.json").unlink(missing_ok=True)
