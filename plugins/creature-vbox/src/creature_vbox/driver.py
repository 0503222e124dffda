"""The VirtualBox driver: a VBoxManage command plan written at create and run on first start, headless VMs."""

from __future__ import annotations

import json
from pathlib import Path
from subprocess import CompletedProcess

from creature.sdk import (
    Capabilities,
    CreatureError,
    HostFacts,
    Machine,
    MachineData,
    PlannedDriver,
    Probe,
    State,
    Template,
    derived_mac,
    disk_image,
    path_check,
    run,
    tool_check,
    write_private,
)

from creature_vbox.vboxmanage import VboxMachine, VboxNic, define_plan, parse_list, parse_machinereadable, state_of

DEVICE = Path("/dev/vboxdrv")
PLAN_FILE = "vboxmanage-define.json"
DEFAULT_BRIDGE = "eth0"
# a paused VM is still up: stop and kill wait for it to leave these states
UP = (State.RUNNING, State.PAUSED)


class VboxData(MachineData, total=False):
    """VirtualBox VMs: the raw disk behind the VMDK and the NICs' MACs."""

    raw_disk: str
    macs: list


class VboxDriver(PlannedDriver):
    """VirtualBox VMs through VBoxManage, registered on their first start and run headless."""

    name = "vbox"
    priority = 20
    mac_prefix = "08:00:27"
    data_model = VboxData
    capabilities = Capabilities(graceful_stop=True, autostart=True, vm=True)
    description = "VirtualBox VMs (VBoxManage, headless)"
    # acpipowerbutton only asks the guest and returns: stop then polls the state, bounded by the caller's timeout
    timeouts = {"create": 600, "start": 120, "stop": 60, "kill": 60, "destroy": 120}

    def probe(self, host: HostFacts) -> Probe:
        return Probe.of(self.name, [
            tool_check("VBoxManage", "VBoxManage", "VBoxManage not found (install VirtualBox from virtualbox.org)"),
            path_check("vboxdrv", DEVICE, "the VirtualBox kernel module is loaded",
                       "the vboxdrv kernel module is not loaded (run /sbin/vboxconfig after installing VirtualBox)"),
        ])

    def _vm(self, machine: Machine, raw_disk: Path) -> VboxMachine:
        nics = [VboxNic(mac=nic.mac or derived_mac(self.mac_prefix, machine.name, i), bridge=nic.network or DEFAULT_BRIDGE)
                for i, nic in enumerate(machine.spec.nics)]
        return VboxMachine(name=machine.name, folder=machine.dir, cpus=machine.spec.cpus, memory=machine.spec.memory,
                           raw_disk=raw_disk, console_log=machine.dir / "console.log", nics=nics)

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        # registering with VirtualBox touches ~/.config/VirtualBox: it waits for the first start, so a
        # dry run or a failed create leaves nothing behind
        vm = self._vm(machine, disk_image(self.home, template))
        plan = define_plan(self.tool("VBoxManage"), vm)
        write_private(staging / PLAN_FILE, json.dumps(plan, indent=2) + "\n")
        return {"clone": "copy", "raw_disk": str(vm.raw_disk), "macs": [n.mac for n in vm.nics]}

    def plans(self, machine: Machine) -> dict[str, list[list[str]]]:
        vbm, name = self.tool("VBoxManage"), machine.name
        return {
            "create": define_plan(vbm, self._vm(machine, Path(machine.data.get("raw_disk", "TEMPLATE/disk.ext4")))),
            "start": [[vbm, "startvm", name, "--type", "headless"]],
            "stop": [[vbm, "controlvm", name, "acpipowerbutton"], [vbm, "showvminfo", name, "--machinereadable"],
                     [vbm, "controlvm", name, "poweroff"]],
            "kill": [[vbm, "controlvm", name, "poweroff"]],
            "destroy": [[vbm, "unregistervm", name, "--delete"]],
            "state": [[vbm, "showvminfo", name, "--machinereadable"]],
            "list": [[vbm, "list", "vms"], [vbm, "list", "runningvms"]],
        }

    def _info(self, machine: Machine) -> dict[str, str] | None:
        proc = run([self.tool("VBoxManage"), "showvminfo", machine.name, "--machinereadable"], check=False, timeout=60)
        return parse_machinereadable(proc.stdout) if proc.returncode == 0 else None

    def registered(self, machine: Machine) -> bool:
        return self._info(machine) is not None

    def registration(self, machine: Machine) -> list[list[str]]:
        # the plan create wrote, not one made now: a machine made by an older creature is registered as it was planned
        return json.loads((machine.dir / PLAN_FILE).read_text())

    def stopped(self, machine: Machine, request: CompletedProcess, timeout: float) -> bool:
        return self.wait_off(machine, timeout, UP)

    def kill(self, machine: Machine) -> None:
        super().kill(machine)
        # controlvm poweroff may return before VirtualBox reports the VM off
        if not self.wait_off(machine, 30, UP):
            raise CreatureError(f"VirtualBox VM {machine.name!r} is still running after poweroff")

    def state(self, machine: Machine) -> State:
        info = self._info(machine)
        return State.STOPPED if info is None else state_of(info)

    def states(self, machines: list[Machine]) -> dict[str, State]:
        running = parse_list(run([self.tool("VBoxManage"), "list", "runningvms"], timeout=60).stdout)
        # runningvms also lists paused machines: ask those few for their exact state
        return {m.name: self.state(m) if m.name in running else State.STOPPED for m in machines}
