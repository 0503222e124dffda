"""The VMware driver: a .vmx and a flat VMDK over a raw copy of the template disk, run with vmrun (Workstation)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from creature.drivers import Capabilities, Check, Driver, Probe, StopResult
from creature.errors import CreatureError, InputError
from creature.home import write_private
from creature.host import HostFacts
from creature.model import Machine, State, Template
from creature.procs import run, which
from creature.templates import disk_image

from creature_vmware.vmrun import parse_vmrun_list
from creature_vmware.vmx import flat_vmdk, machine_settings, write_vmx

DEVICE = Path("/dev/vmmon")
HOST_TYPE = "ws"


def check_static_mac(mac: str) -> str:
    """mac, if VMware accepts it as a static address (it refuses to power on a VM with any other)."""
    octets = mac.lower().split(":")
    if octets[:3] != ["00", "50", "56"] or int(octets[3], 16) > 0x3F:
        raise InputError(f"VMware accepts static MAC addresses only from 00:50:56:00:00:00 to 00:50:56:3f:ff:ff, not {mac}:"
                         " give the NIC such a MAC")
    return mac


def static_mac(name: str, index: int) -> str:
    """A stable MAC in the range VMware allows for static addresses (00:50:56:00:00:00 to 00:50:56:3F:FF:FF)."""
    digest = hashlib.sha256(f"{name}/{index}".encode()).digest()
    return "00:50:56:" + ":".join(f"{b:02x}" for b in (digest[0] & 0x3F, digest[1], digest[2]))


class VmwareDriver(Driver):
    """VMware Workstation VMs through vmrun, defined by a generated .vmx."""

    name = "vmware"
    priority = 20
    mac_prefix = "00:50:56"
    mac_max4 = 0x3F
    capabilities = Capabilities(graceful_stop=True, autostart=True, vm=True)
    description = "VMware Workstation VMs (vmrun, .vmx)"

    @staticmethod
    def vmrun() -> str:
        return which("vmrun") or "vmrun"

    def _vmx(self, machine: Machine) -> Path:
        return machine.dir / f"{machine.name}.vmx"

    def probe(self, host: HostFacts) -> Probe:
        tool = which("vmrun")
        checks = [Check(name="vmrun", ok=tool is not None,
                        reason=f"vmrun found at {tool}" if tool else "vmrun not found (install VMware Workstation or the VIX API)")]
        if DEVICE.exists():
            checks.append(Check(name="vmmon", ok=True, reason=f"{DEVICE} present: the vmmon kernel module is loaded"))
        else:
            checks.append(Check(name="vmmon", ok=False, reason=f"{DEVICE} is missing: the vmmon kernel module is not loaded"
                                " (run vmware-modconfig --console --install-all)"))
        return Probe.of(self.name, checks)

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        base = disk_image(self.home, template)
        run(["cp", "--sparse=always", str(base), str(staging / "disk-flat.img")], timeout=600)
        (staging / "disk-flat.img").chmod(0o600)
        write_private(staging / "disk.vmdk", flat_vmdk("disk-flat.img", base.stat().st_size))
        nics = [(check_static_mac(nic.mac or static_mac(machine.name, i)), nic.network) for i, nic in enumerate(machine.spec.nics)]
        settings = machine_settings(machine.name, machine.spec.cpus, machine.spec.memory, "disk.vmdk",
                                    machine.dir / "console.log", nics)
        write_private(staging / f"{machine.name}.vmx", write_vmx(settings))
        return {"clone": "copy", "base_image": str(base), "macs": [mac for mac, _ in nics]}

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        vmrun, vmx = self.vmrun(), str(self._vmx(machine))
        plans = {
            "create": [["cp", "--sparse=always", str(machine.data.get("base_image", "TEMPLATE/disk.ext4")),
                        str(machine.dir / "disk-flat.img")]],
            "start": [[vmrun, "-T", HOST_TYPE, "start", vmx, "nogui"]],
            "stop": [[vmrun, "-T", HOST_TYPE, "stop", vmx, "soft"], [vmrun, "-T", HOST_TYPE, "list"],
                     [vmrun, "-T", HOST_TYPE, "stop", vmx, "hard"]],
            "kill": [[vmrun, "-T", HOST_TYPE, "stop", vmx, "hard"]],
            "destroy": [],
            "state": [[vmrun, "-T", HOST_TYPE, "list"]],
            "list": [[vmrun, "-T", HOST_TYPE, "list"]],
        }
        if action not in plans:
            raise CreatureError(f"the vmware driver has no plan for {action!r}")
        return plans[action]

    def start(self, machine: Machine) -> None:
        run(self.plan(machine, "start")[0], timeout=180)

    def _wait_off(self, machine: Machine, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.state(machine) == State.RUNNING:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return True

    def stop(self, machine: Machine, timeout: float) -> StopResult:
        if timeout > 0:
            # vmrun's soft stop itself waits for the guest; the poll bounds it by our timeout
            run(self.plan(machine, "stop")[0], check=False, timeout=timeout + 30)
            if self._wait_off(machine, timeout):
                return StopResult(forced=False)
        self.kill(machine)
        return StopResult(forced=True)

    def kill(self, machine: Machine) -> None:
        run(self.plan(machine, "kill")[0], timeout=120)

    def states(self, machines: list[Machine]) -> dict[str, State]:
        running = {p.resolve() for p in parse_vmrun_list(run([self.vmrun(), "-T", HOST_TYPE, "list"], timeout=60).stdout)}
        return {m.name: State.RUNNING if self._vmx(m).resolve() in running else State.STOPPED for m in machines}

    def state(self, machine: Machine) -> State:
        return self.states([machine])[machine.name]
