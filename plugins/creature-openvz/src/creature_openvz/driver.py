"""The OpenVZ driver: containers on an OpenVZ kernel through vzctl, defined by a generated ve.conf."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from creature.drivers import Capabilities, Check, Driver, Probe, StopResult
from creature.errors import CreatureError
from creature.guest import adjust
from creature.home import write_private
from creature.host import HostFacts
from creature.model import Machine, State, Template
from creature.procs import run, which

from creature_openvz.veconf import Veth, container_settings, parse_vzlist_json, state_of, write_veconf

PROC = Path("/proc/vz")
CONF_DIR = Path("/etc/vz/conf")


def ctid_of(name: str) -> int:
    """A stable numeric container ID for name (IDs up to 100 are reserved by OpenVZ)."""
    return 100000 + int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % 900000


def derived_mac(prefix: str, name: str, index: int, side: str) -> str:
    """A stable MAC under prefix for one side (guest or host) of NIC index."""
    digest = hashlib.sha256(f"{name}/{index}/{side}".encode()).digest()
    return prefix + "".join(f":{b:02x}" for b in digest[:3])


class OpenvzDriver(Driver):
    """OpenVZ system containers through vzctl (an OpenVZ kernel is required)."""

    name = "openvz"
    priority = 20
    # vzctl's own OUI for veth MACs (SWsoft)
    mac_prefix = "00:18:51"
    capabilities = Capabilities(graceful_stop=True, autostart=True)
    description = "OpenVZ containers (vzctl, ve.conf)"

    @staticmethod
    def tool(name: str) -> str:
        return which(name) or name

    def _ctid(self, machine: Machine) -> str:
        return str(machine.data.get("ctid") or ctid_of(machine.name))

    def _conf_link(self, machine: Machine) -> Path:
        return CONF_DIR / f"{self._ctid(machine)}.conf"

    def probe(self, host: HostFacts) -> Probe:
        checks = []
        if PROC.exists():
            checks.append(Check(name="kernel", ok=True, reason=f"{PROC} present: this is an OpenVZ kernel"))
        else:
            checks.append(Check(name="kernel", ok=False, reason=f"{PROC} is missing: kernel {host.kernel_release} is not an OpenVZ kernel"))
        vzctl = which("vzctl")
        checks.append(Check(name="vzctl", ok=vzctl is not None,
                            reason=f"vzctl found at {vzctl}" if vzctl else "vzctl not found (install the vzctl package from OpenVZ)"))
        return Probe.of(self.name, checks)

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

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        vzctl, ctid = self.tool("vzctl"), self._ctid(machine)
        plans = {
            # vzctl only knows containers whose config is in /etc/vz/conf: link ours there on first start
            "create": [["ln", "-sfn", str(machine.dir / "ve.conf"), str(self._conf_link(machine))]],
            "start": [[vzctl, "start", ctid]],
            "stop": [[vzctl, "stop", ctid], [vzctl, "stop", ctid, "--fast"]],
            "kill": [[vzctl, "stop", ctid, "--fast"]],
            "destroy": [["rm", "-f", str(self._conf_link(machine))]],
            "state": [[self.tool("vzlist"), "-a", "-j"]],
            "list": [[self.tool("vzlist"), "-a", "-j"]],
        }
        if action not in plans:
            raise CreatureError(f"the openvz driver has no plan for {action!r}")
        return plans[action]

    def start(self, machine: Machine) -> None:
        if os.path.realpath(self._conf_link(machine)) != str(machine.dir / "ve.conf"):
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
        run(self.plan(machine, "kill")[0], timeout=120)

    def destroy(self, machine: Machine) -> None:
        link = self._conf_link(machine)
        if link.is_symlink() and os.path.realpath(link) == str(machine.dir / "ve.conf"):
            run(self.plan(machine, "destroy")[0])

    def states(self, machines: list[Machine]) -> dict[str, State]:
        rows = parse_vzlist_json(run([self.tool("vzlist"), "-a", "-j"], timeout=60).stdout)
        return {m.name: state_of(rows.get(self._ctid(m))) for m in machines}

    def state(self, machine: Machine) -> State:
        return self.states([machine])[machine.name]
