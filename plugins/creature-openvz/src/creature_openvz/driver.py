"""The OpenVZ driver: containers on an OpenVZ kernel through vzctl, defined by a generated ve.conf."""

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
    derived_mac,
    links_to,
    path_check,
    run,
    stable_id,
    tool_check,
    write_private,
)
from creature.sdk import adjust_guest as adjust

from creature_openvz.veconf import Veth, container_settings, parse_vzlist_json, state_of, write_veconf

PROC = Path("/proc/vz")
CONF_DIR = Path("/etc/vz/conf")


def ctid_of(name: str) -> int:
    """A stable numeric container ID for name (IDs up to 100 are reserved by OpenVZ)."""
    return stable_id(name, 100000, 999999)


class OpenvzData(MachineData, total=False):
    """OpenVZ containers: the container ID and the veths' MACs."""

    ctid: int
    macs: list


class OpenvzDriver(PlannedDriver):
    """OpenVZ system containers through vzctl (an OpenVZ kernel is required)."""

    name = "openvz"
    priority = 20
    # vzctl's own OUI for veth MACs (SWsoft)
    mac_prefix = "00:18:51"
    data_model = OpenvzData
    capabilities = Capabilities(graceful_stop=True, autostart=True)
    description = "OpenVZ containers (vzctl, ve.conf)"
    timeouts = {"start": 300, "kill": 120}

    def _ctid(self, machine: Machine) -> str:
        return str(machine.data.get("ctid") or ctid_of(machine.name))

    def _conf_link(self, machine: Machine) -> Path:
        return CONF_DIR / f"{self._ctid(machine)}.conf"

    def probe(self, host: HostFacts) -> Probe:
        return Probe.of(self.name, [
            path_check("kernel", PROC, "this is an OpenVZ kernel", f"kernel {host.kernel_release} is not an OpenVZ kernel"),
            tool_check("vzctl", "vzctl", "vzctl not found (install the vzctl package from OpenVZ)"),
        ])

    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        ctid = ctid_of(machine.name)
        private = staging / "private"
        run(["cp", "-a", str(template.rootfs), str(private)], timeout=600)
        adjust(private, machine.name)
        (staging / "root").mkdir(mode=0o700)
        veths = [Veth(ifname=f"eth{i}", mac=nic.mac or derived_mac(self.mac_prefix, machine.name, i, "guest"),
                      host_ifname=f"veth{ctid}.{i}", host_mac=derived_mac(self.mac_prefix, machine.name, i, "host"),
                      bridge=nic.network or "vmbr0")
                 for i, nic in enumerate(machine.spec.nics)]
        settings = container_settings(machine.name, str(machine.dir / "private"), str(machine.dir / "root"),
                                      str(template.meta.get("os", "linux")), machine.spec.cpus, machine.spec.memory, veths)
        write_private(staging / "ve.conf", write_veconf(settings))
        return {"clone": "copy", "ctid": ctid, "macs": [v.mac for v in veths]}

    def plans(self, machine: Machine) -> dict[str, list[list[str]]]:
        vzctl, ctid = self.tool("vzctl"), self._ctid(machine)
        return {
            # vzctl only knows containers whose config is in /etc/vz/conf: link ours there on first start
            "create": [["ln", "-sfn", str(machine.dir / "ve.conf"), str(self._conf_link(machine))]],
            "start": [[vzctl, "start", ctid]],
            "stop": [[vzctl, "stop", ctid], [vzctl, "stop", ctid, "--fast"]],
            "kill": [[vzctl, "stop", ctid, "--fast"]],
            "destroy": [["rm", "-f", str(self._conf_link(machine))]],
            "state": [[self.tool("vzlist"), "-a", "-j"]],
            "list": [[self.tool("vzlist"), "-a", "-j"]],
        }

    def registered(self, machine: Machine) -> bool:
        return links_to(self._conf_link(machine), machine.dir / "ve.conf")

    def states(self, machines: list[Machine]) -> dict[str, State]:
        rows = parse_vzlist_json(run([self.tool("vzlist"), "-a", "-j"], timeout=60).stdout)
        return {m.name: state_of(rows.get(self._ctid(m))) for m in machines}

    def state(self, machine: Machine) -> State:
        return self.states([machine])[machine.name]
