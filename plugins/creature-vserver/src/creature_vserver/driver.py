"""The Linux-VServer driver: util-vserver guests defined by a generated /etc/vservers/NAME folder."""

from __future__ import annotations

from pathlib import Path

from creature.sdk import (
    Capabilities,
    HostFacts,
    Machine,
    MachineData,
    PlannedDriver,
    Probe,
    State,
    Template,
    links_to,
    path_check,
    run,
    stable_id,
    tool_check,
)
from creature.sdk import adjust_guest as adjust

from creature_vserver.layout import Interface, parse_vserver_stat, state_of, write_layout

PROC = Path("/proc/virtual")
CONF_DIR = Path("/etc/vservers")


def xid_of(name: str) -> int:
    """A stable static context ID for name (util-vserver's static range is 2 to 49151)."""
    return stable_id(name, 2, 49151)


class VserverData(MachineData, total=False):
    """VServer guests: the context ID."""

    xid: int


class VserverDriver(PlannedDriver):
    """Linux-VServer guests through util-vserver's `vserver` command (a VServer-patched kernel is required)."""

    name = "vserver"
    priority = 10
    # guests share the host's network stack: addresses, no virtual NICs and no MACs
    data_model = VserverData
    capabilities = Capabilities(graceful_stop=True, autostart=True, uses_macs=False)
    description = "Linux-VServer guests (util-vserver)"
    timeouts = {"start": 300, "kill": 60}

    def _xid(self, machine: Machine) -> str:
        return str(machine.data.get("xid") or xid_of(machine.name))

    def probe(self, host: HostFacts) -> Probe:
        return Probe.of(self.name, [
            path_check("kernel", PROC, "this is a Linux-VServer kernel", f"kernel {host.kernel_release} is not a Linux-VServer kernel"),
            tool_check("vserver", "vserver", "the vserver tool is not found (install util-vserver)"),
        ])

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        xid = xid_of(machine.name)
        run(["cp", "-a", str(template.rootfs), str(staging / "rootfs")], timeout=600)
        adjust(staging / "rootfs", machine.name)
        # a guest shares the host's network stack: a NIC becomes an address on a host device, so only NICs with an IP map
        interfaces = [Interface(ip=nic.ip, dev=nic.network or "eth0") for nic in machine.spec.nics if nic.ip]
        (staging / "vserver").mkdir(mode=0o700)
        write_layout(staging / "vserver", machine.name, xid, machine.dir / "rootfs", machine.spec.cpus,
                     machine.spec.memory, interfaces)
        return {"clone": "copy", "xid": xid}

    def plans(self, machine: Machine) -> dict[str, list[list[str]]]:
        vserver, name = self.tool("vserver"), machine.name
        link = str(CONF_DIR / name)
        vkill = [self.tool("vkill"), "--xid", self._xid(machine), "-s", "KILL"]
        return {
            # util-vserver looks guests up in /etc/vservers: link ours there on first start
            "create": [["ln", "-sfn", str(machine.dir / "vserver"), link]],
            "start": [[vserver, name, "start"]],
            "stop": [[vserver, name, "stop"], vkill],
            "kill": [vkill],
            "destroy": [["rm", "-f", link]],
            "state": [[self.tool("vserver-stat")]],
            "list": [[self.tool("vserver-stat")]],
        }

    def registered(self, machine: Machine) -> bool:
        return links_to(CONF_DIR / machine.name, machine.dir / "vserver")

    def states(self, machines: list[Machine]) -> dict[str, State]:
        running = parse_vserver_stat(run([self.tool("vserver-stat")], timeout=60).stdout)
        return {m.name: state_of(m.name, running) for m in machines}

    def state(self, machine: Machine) -> State:
        return self.states([machine])[machine.name]
