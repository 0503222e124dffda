"""The VMware driver: a .vmx and a flat VMDK over a raw copy of the template disk, run with vmrun (Workstation)."""

from __future__ import annotations

from pathlib import Path
from subprocess import CompletedProcess

from creature.sdk import (
    Capabilities,
    HostFacts,
    InputError,
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


class VmwareData(MachineData, total=False):
    """VMware VMs: the template image copied and the NICs' MACs."""

    base_image: str
    macs: list


class VmwareDriver(PlannedDriver):
    """VMware Workstation VMs through vmrun, defined by a generated .vmx."""

    name = "vmware"
    priority = 20
    mac_prefix = "00:50:56"
    mac_max4 = 0x3F
    data_model = VmwareData
    capabilities = Capabilities(graceful_stop=True, autostart=True, vm=True)
    description = "VMware Workstation VMs (vmrun, .vmx)"
    timeouts = {"start": 180, "kill": 120}

    def _vmx(self, machine: Machine) -> Path:
        return machine.dir / f"{machine.name}.vmx"

    def probe(self, host: HostFacts) -> Probe:
        return Probe.of(self.name, [
            tool_check("vmrun", "vmrun", "vmrun not found (install VMware Workstation or the VIX API)"),
            path_check("vmmon", DEVICE, "the vmmon kernel module is loaded",
                       "the vmmon kernel module is not loaded (run vmware-modconfig --console --install-all)"),
        ])

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        base = disk_image(self.home, template)
        run(["cp", "--sparse=always", str(base), str(staging / "disk-flat.img")], timeout=600)
        (staging / "disk-flat.img").chmod(0o600)
        write_private(staging / "disk.vmdk", flat_vmdk("disk-flat.img", base.stat().st_size))
        nics = [(check_static_mac(nic.mac or derived_mac(self.mac_prefix, machine.name, i, max4=self.mac_max4)), nic.network)
                for i, nic in enumerate(machine.spec.nics)]
        settings = machine_settings(machine.name, machine.spec.cpus, machine.spec.memory, "disk.vmdk",
                                    machine.dir / "console.log", nics)
        write_private(staging / f"{machine.name}.vmx", write_vmx(settings))
        return {"clone": "copy", "base_image": str(base), "macs": [mac for mac, _ in nics]}

    def plans(self, machine: Machine) -> dict[str, list[list[str]]]:
        vmrun, vmx = [self.tool("vmrun"), "-T", HOST_TYPE], str(self._vmx(machine))
        # the .vmx is the machine: vmrun needs no registration, so start never runs "create" (create's own copy)
        return {
            "create": [["cp", "--sparse=always", str(machine.data.get("base_image", "TEMPLATE/disk.ext4")),
                        str(machine.dir / "disk-flat.img")]],
            "start": [[*vmrun, "start", vmx, "nogui"]],
            "stop": [[*vmrun, "stop", vmx, "soft"], [*vmrun, "list"], [*vmrun, "stop", vmx, "hard"]],
            "kill": [[*vmrun, "stop", vmx, "hard"]],
            "destroy": [],
            "state": [[*vmrun, "list"]],
            "list": [[*vmrun, "list"]],
        }

    def stopped(self, machine: Machine, request: CompletedProcess, timeout: float) -> bool:
        # vmrun's soft stop itself waits for the guest; the poll bounds it by our timeout
        return self.wait_off(machine, timeout)

    def states(self, machines: list[Machine]) -> dict[str, State]:
        running = {p.resolve() for p in parse_vmrun_list(run([self.tool("vmrun"), "-T", HOST_TYPE, "list"], timeout=60).stdout)}
        return {m.name: State.RUNNING if self._vmx(m).resolve() in running else State.STOPPED for m in machines}

    def state(self, machine: Machine) -> State:
        return self.states([machine])[machine.name]
