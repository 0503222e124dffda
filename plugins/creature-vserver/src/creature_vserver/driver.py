"""The Linux-VServer driver: util-vserver guests defined by a generated /etc/vservers/NAME folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from creature.drivers import Capabilities, Check, Driver, Probe, StopResult
from creature.errors import CreatureError
from creature.guest import adjust
from creature.host import HostFacts
from creature.model import Machine, State, Template
from creature.procs import run, which

from creature_vserver.layout import Interface, parse_vserver_stat, state_of, write_layout

PROC = Path("/proc/virtual")
CONF_DIR = Path("/etc/vservers")


def xid_of(name: str) -> int:
    """A stable static context ID for name (util-vserver's static range is 2 to 49151)."""
    return 2 + int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % 49150


class VserverDriver(Driver):
    """Linux-VServer guests through util-vserver's `vserver` command (a VServer-patched kernel is required)."""

    name = "vserver"
    priority = 10
    # guests share the host's network stack: addresses, no virtual NICs and no MACs
    uses_macs = False
    capabilities = Capabilities(graceful_stop=True, autostart=True)
    description = "Linux-VServer guests (util-vserver)"

    @staticmethod
    def tool(name: str) -> str:
        return which(name) or name

    def _xid(self, machine: Machine) -> str:
        return str(machine.data.get("xid") or xid_of(machine.name))

    def probe(self, host: HostFacts) -> Probe:
        checks = []
        if PROC.exists():
            checks.append(Check(name="kernel", ok=True, reason=f"{PROC} present: this is a Linux-VServer kernel"))
        else:
            checks.append(Check(name="kernel", ok=False,
                                reason=f"{PROC} is missing: kernel {host.kernel_release} is not a Linux-VServer kernel"))
        tool = which("vserver")
        checks.append(Check(name="vserver", ok=tool is not None,
                            reason=f"vserver found at {tool}" if tool else "the vserver tool is not found (install util-vserver)"))
        return Probe.of(self.name, checks)

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

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        vserver, name = self.tool("vserver"), machine.name
        link = str(CONF_DIR / name)
        plans = {
            # util-vserver looks guests up in /etc/vservers: link ours there on first start
            "create": [["ln", "-sfn", str(machine.dir / "vserver"), link]],
            "start": [[vserver, name, "start"]],
            "stop": [[vserver, name, "stop"], [self.tool("vkill"), "--xid", self._xid(machine), "-s", "KILL"]],
            "kill": [[self.tool("vkill"), "--xid", self._xid(machine), "-s", "KILL"]],
            "destroy": [["rm", "-f", link]],
            "state": [[self.tool("vserver-stat")]],
            "list": [[self.tool("vserver-stat")]],
        }
        if action not in plans:
            raise CreatureError(f"the vserver driver has no plan for {action!r}")
        return plans[action]

    def _registered(self, machine: Machine) -> bool:
        return os.path.realpath(CONF_DIR / machine.name) == str(machine.dir / "vserver")

    def start(self, machine: Machine) -> None:
        if not self._registered(machine):
            for argv in self.plan(machine, "create"):
                run(argv)
        run(self.plan(machine, "start")[0], timeout=300)

    def stop(self, machine: Machine, timeout: float) -> StopResult:
        if timeout > 0:
            proc = run(self.plan(machine, "stop")[0], check=False, timeout=timeout + 30)
            if proc.returncode == 0 and self.state(machine) != State.RUNNING:
                return StopResult(forced=False)
        self.kill(machine)
        return StopResult(forced=True)

    def kill(self, machine: Machine) -> None:
        run(self.plan(machine, "kill")[0], timeout=60)

    def destroy(self, machine: Machine) -> None:
        if (CONF_DIR / machine.name).is_symlink() and self._registered(machine):
            run(self.plan(machine, "destroy")[0])

    def states(self, machines: list[Machine]) -> dict[str, State]:
        running = parse_vserver_stat(run([self.tool("vserver-stat")], timeout=60).stdout)
        return {m.name: state_of(m.name, running) for m in machines}

    def state(self, machine: Machine) -> State:
        return self.states([machine])[machine.name]
