"""The VirtualBox driver: a VBoxManage command plan written at create and run on first start, headless VMs."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from creature.drivers import Capabilities, Check, Driver, Probe, StopResult
from creature.errors import CreatureError
from creature.home import write_private
from creature.host import HostFacts
from creature.model import Machine, State, Template
from creature.procs import run, which
from creature.templates import disk_image

from creature_vbox.vboxmanage import VboxMachine, VboxNic, define_plan, parse_list, parse_machinereadable, state_of

DEVICE = Path("/dev/vboxdrv")
PLAN_FILE = "vboxmanage-define.json"
DEFAULT_BRIDGE = "eth0"


def derived_mac(prefix: str, name: str, index: int) -> str:
    """A stable MAC under prefix for NIC index of machine name (used when the spec gives none)."""
    digest = hashlib.sha256(f"{name}/{index}".encode()).digest()
    return prefix + "".join(f":{b:02x}" for b in digest[:3])


class VboxDriver(Driver):
    """VirtualBox VMs through VBoxManage, registered on their first start and run headless."""

    name = "vbox"
    priority = 20
    mac_prefix = "08:00:27"
    capabilities = Capabilities(graceful_stop=True, autostart=True, vm=True)
    description = "VirtualBox VMs (VBoxManage, headless)"

    @staticmethod
    def vboxmanage() -> str:
        return which("VBoxManage") or "VBoxManage"

    def probe(self, host: HostFacts) -> Probe:
        tool = which("VBoxManage")
        checks = [Check(name="VBoxManage", ok=tool is not None,
                        reason=f"VBoxManage found at {tool}" if tool else "VBoxManage not found (install VirtualBox from virtualbox.org)")]
        if DEVICE.exists():
            checks.append(Check(name="vboxdrv", ok=True, reason=f"{DEVICE} present: the VirtualBox kernel module is loaded"))
        else:
            checks.append(Check(name="vboxdrv", ok=False, reason=f"{DEVICE} is missing: the vboxdrv kernel module is not loaded"
                                " (run /sbin/vboxconfig after installing VirtualBox)"))
        return Probe.of(self.name, checks)

    def _vm(self, machine: Machine, raw_disk: Path) -> VboxMachine:
        nics = [VboxNic(mac=nic.mac or derived_mac(self.mac_prefix, machine.name, i), bridge=nic.network or DEFAULT_BRIDGE)
                for i, nic in enumerate(machine.spec.nics)]
        return VboxMachine(name=machine.name, folder=machine.dir, cpus=machine.spec.cpus, memory=machine.spec.memory,
                           raw_disk=raw_disk, console_log=machine.dir / "console.log", nics=nics)

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        # registering with VirtualBox touches ~/.config/VirtualBox: it waits for the first start, so a
        # dry run or a failed create leaves nothing behind
        vm = self._vm(machine, disk_image(self.home, template))
        plan = define_plan(self.vboxmanage(), vm)
        write_private(staging / PLAN_FILE, json.dumps(plan, indent=2) + "\n")
        return {"clone": "copy", "raw_disk": str(vm.raw_disk), "macs": [n.mac for n in vm.nics]}

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        vbm, name = self.vboxmanage(), machine.name
        if action == "create":
            vm = self._vm(machine, Path(machine.data.get("raw_disk", "TEMPLATE/disk.ext4")))
            return define_plan(vbm, vm)
        plans = {
            "start": [[vbm, "startvm", name, "--type", "headless"]],
            "stop": [[vbm, "controlvm", name, "acpipowerbutton"], [vbm, "showvminfo", name, "--machinereadable"],
                     [vbm, "controlvm", name, "poweroff"]],
            "kill": [[vbm, "controlvm", name, "poweroff"]],
            "destroy": [[vbm, "unregistervm", name, "--delete"]],
            "state": [[vbm, "showvminfo", name, "--machinereadable"]],
            "list": [[vbm, "list", "vms"], [vbm, "list", "runningvms"]],
        }
        if action not in plans:
            raise CreatureError(f"the vbox driver has no plan for {action!r}")
        return plans[action]

    def _info(self, machine: Machine) -> dict[str, str] | None:
        proc = run([self.vboxmanage(), "showvminfo", machine.name, "--machinereadable"], check=False, timeout=60)
        return parse_machinereadable(proc.stdout) if proc.returncode == 0 else None

    def start(self, machine: Machine) -> None:
        if self._info(machine) is None:
            for argv in json.loads((machine.dir / PLAN_FILE).read_text()):
                run(argv, timeout=600)
        run(self.plan(machine, "start")[0], timeout=120)

    def _wait_off(self, machine: Machine, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.state(machine) in (State.RUNNING, State.PAUSED):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return True

    def stop(self, machine: Machine, timeout: float) -> StopResult:
        if timeout > 0:
            run(self.plan(machine, "stop")[0], check=False, timeout=60)
            if self._wait_off(machine, timeout):
                return StopResult(forced=False)
        self.kill(machine)
        return StopResult(forced=True)

    def kill(self, machine: Machine) -> None:
        run(self.plan(machine, "kill")[0], timeout=60)
        if not self._wait_off(machine, 30):
            raise CreatureError(f"VirtualBox VM {machine.name!r} is still running after poweroff")

    def destroy(self, machine: Machine) -> None:
        if self._info(machine) is not None:
            run(self.plan(machine, "destroy")[0], timeout=120)

    def state(self, machine: Machine) -> State:
        info = self._info(machine)
        return State.STOPPED if info is None else state_of(info)

    def states(self, machines: list[Machine]) -> dict[str, State]:
        running = parse_list(run([self.vboxmanage(), "list", "runningvms"], timeout=60).stdout)
        # runningvms also lists paused machines: ask those few for their exact state
        return {m.name: self.state(m) if m.name in running else State.STOPPED for m in machines}
