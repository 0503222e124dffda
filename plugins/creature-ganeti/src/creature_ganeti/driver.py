"""The ganeti driver: creature machines as instances of a Ganeti cluster, driven through the cluster's RAPI.

A cluster is a remote host (`creature host add NAME --driver ganeti https://HOST:5080 ...`): its
machines live in that host's creature home, and every operation is one RAPI job, awaited by long-poll.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

from creature.sdk import (
    Address,
    Capabilities,
    CreatureError,
    Driver,
    InputError,
    Machine,
    MachineData,
    Probe,
    State,
    StopResult,
    Template,
)

from creature_ganeti.rapi import NotOnCluster, job_seconds
from creature_ganeti.settings import Cluster, check_host

if TYPE_CHECKING:
    from creature.sdk import HostAccess, HostFacts

# Ganeti's instance status (the query field "status") as creature's states
STATUS = {"running": State.RUNNING, "ERROR_up": State.RUNNING, "ERROR_wrongnode": State.RUNNING,
          "ADMIN_down": State.STOPPED, "ADMIN_offline": State.STOPPED, "USER_down": State.STOPPED,
          "ERROR_down": State.CRASHED, "ERROR_nodedown": State.UNKNOWN, "ERROR_nodeoffline": State.UNKNOWN}
BULK_FRESH = 2.0  # seconds one bulk listing answers nodes() and addresses() of the same `list`


class GanetiData(MachineData, total=False):
    """A Ganeti instance: its cluster, hypervisor, disk, the template image it was installed from, its create job."""

    cluster: str
    hypervisor: str
    disk_template: str
    disk_size: int
    image: str
    create_job: int


class GanetiDriver(Driver):
    """Instances of a Ganeti cluster (hypervisors kvm and fake) through its RAPI; placement, live migration, failover."""

    name = "ganeti"
    priority = 1  # never this host's default: it is only ever used on a cluster added with `host add`
    mac_prefix = "aa:00:00"  # Ganeti's default MAC prefix
    capabilities = Capabilities(console=False, exec=False, remote=True, graceful_stop=True, autostart=False, cow_clone=False,
                                networks=True, vm=True, placement=True, migrate=True, failover=True)
    data_model = GanetiData
    description = "Ganeti cluster instances (kvm, fake) through the cluster's RAPI: `creature host add NAME --driver ganeti URL`"

    def __init__(self, home):
        super().__init__(home)
        self._cluster: Cluster | None = None
        self._info: dict | None = None
        self._bulk: tuple[float, dict[str, dict]] | None = None

    # the cluster
    @classmethod
    def check_host(cls, uri: str, access: HostAccess) -> dict[str, str]:
        return check_host(uri, access.user, access.password, access.ca_cert, access.options)

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster = Cluster.of(self.home.root)
            if self._cluster is None:
                raise CreatureError("this creature home is not a Ganeti cluster's: use --host NAME of a host added "
                                    "with `creature host add NAME --driver ganeti https://HOST:5080 ...`")
        return self._cluster

    @property
    def rapi(self):
        return self.cluster.rapi

    def cluster_info(self) -> dict:
        """GET /2/info, once per driver object."""
        if self._info is None:
            self._info = self.rapi.request("GET", "/2/info")
        return self._info

    def reach(self) -> None:
        """Raise unless the cluster's RAPI answers now (`list --all-hosts`)."""
        self.rapi.request("GET", "/2/info")

    def probe(self, host: HostFacts) -> Probe:
        from creature_ganeti.probe import probe

        return probe(self.name, Cluster.of(self.home.root), self.cluster_info)

    def check_options(self, options: dict[str, str]) -> None:
        from creature_ganeti.request import parse_options  # pydantic: only where input enters

        parse_options(options)

    def node_name(self, wanted: str) -> str:
        """The cluster's full name of node wanted (its full name, or its first label when that is unique)."""
        names = [n["id"] if "id" in n else n["name"] for n in self.rapi.request("GET", "/2/nodes")]
        matches = [n for n in names if n == wanted] or [n for n in names if n.split(".")[0] == wanted]
        if len(matches) != 1:
            raise InputError(f"cluster {self.cluster_info().get('name')} has no node {wanted!r} (nodes: {', '.join(sorted(names))})")
        return matches[0]

    # create
    def create(self, machine: Machine, template: Template, staging: Path) -> dict:
        from creature.sdk import disk_image

        from creature_ganeti.images import boot_files, image_size_mib, template_image
        from creature_ganeti.request import InstanceRequest

        cluster = self.cluster
        node = self.node_name(machine.spec.node) if machine.spec.node else None
        request = InstanceRequest(cluster, self.cluster_info(), machine, self._nics(machine), node)
        # everything checked: only now the template's image is made (once); its size is the least disk
        image = disk_image(self.home, template)
        size = request.fit(template, image_size_mib(image))
        publish = not self.dry_run
        published = cluster.node_path(template_image(cluster.image_dir, template, image if publish else None))
        boot = None
        if request.hypervisor == "kvm":
            vmlinux, initramfs = boot_files(cluster.image_dir, write=publish)
            boot = {"kernel_path": cluster.node_path(vmlinux), "initrd_path": cluster.node_path(initramfs),
                    "root_path": "/dev/vda", "kernel_args": " ".join(self._kernel_words(machine, template))}
        body = request.body(size, published, boot)
        (staging / "create.rapi").write_text(f"POST {self.rapi.base}/2/instances\n{json.dumps(body, indent=2)}\n")
        (staging / "create.rapi").chmod(0o600)
        data = {"cluster": request.info.get("name"), "hypervisor": request.hypervisor, "disk_template": request.disk_template,
                "disk_size": size, "image": published}
        if self.dry_run:
            return data
        job = self.rapi.run("POST", "/2/instances", body)
        return data | {"create_job": job.get("id")}

    def _nics(self, machine: Machine) -> list[dict]:
        """The instance's NICs: one per creature NIC (its network's bridge as the link); without any, one NIC on the
        cluster's default link with a MAC Ganeti makes, as `gnt-instance add` gives (instance policies want one)."""
        from creature.sdk import bridge_for

        if not machine.spec.nics:
            return [{}]
        nics = []
        for nic in machine.spec.nics:
            entry = {"link": bridge_for(self.home, nic), "mac": nic.mac}
            if nic.ip:
                entry["ip"] = nic.ip
            nics.append(entry)
        return nics

    def _kernel_words(self, machine: Machine, template: Template) -> list[str]:
        from creature.sdk import guest_cmdline

        # root= comes from the hvparam root_path; the acpi word turns the power button (Ganeti's soft
        # shutdown: system_powerdown) into the signal the template's init halts on
        halt = str(template.meta.get("halt_signal", "SIGUSR2")).removeprefix("SIG")
        return ["rw", "panic=-1", "net.ifnames=0", "quiet", f"creature.hostname={machine.name}", f"creature.acpi={halt}",
                *guest_cmdline(self.home, machine.spec.nics)]

    # state
    def _get(self, name: str) -> dict | None:
        """One instance as the RAPI shows it now (from this listing's bulk answer when it is fresh); None if gone."""
        if self._bulk is not None and time.monotonic() - self._bulk[0] < BULK_FRESH and name in self._bulk[1]:
            return self._bulk[1][name]
        try:
            return self.rapi.request("GET", f"/2/instances/{name}")
        except NotOnCluster:
            return None

    def state(self, machine: Machine) -> State:
        found = self._get_fresh(machine.name)
        return State.UNKNOWN if found is None else STATUS.get(found.get("status"), State.UNKNOWN)

    def _get_fresh(self, name: str) -> dict | None:
        self._bulk = None  # a lifecycle step must see the cluster as it is now
        return self._get(name)

    def states(self, machines: list[Machine]) -> dict[str, State]:
        """One bulk RAPI request for every instance of the cluster, whatever the number of machines."""
        found = {i["name"]: i for i in self.rapi.request("GET", "/2/instances?bulk=1")}
        self._bulk = (time.monotonic(), found)
        return {m.name: STATUS.get(found[m.name].get("status"), State.UNKNOWN) if m.name in found else State.UNKNOWN
                for m in machines}

    def nodes(self, machines: list[Machine]) -> dict[str, str]:
        found = {}
        for m in machines:
            instance = self._get(m.name)
            if instance is not None and instance.get("pnode"):
                found[m.name] = instance["pnode"]
        return found

    def addresses(self, machine: Machine) -> list[Address]:
        """The NIC addresses Ganeti knows (given at create, or by gnt-instance modify)."""
        instance = self._get(machine.name)
        if instance is None:
            return []
        return [Address(mac=mac, ip=ip, source="ganeti") for mac, ip in zip(instance.get("nic.macs") or [],
                                                                              instance.get("nic.ips") or [], strict=False) if ip]

    def details(self, machine: Machine) -> dict[str, str]:
        instance = self._get_fresh(machine.name)
        if instance is None:
            return {"ganeti": f"no instance {machine.name} on cluster {machine.data.get('cluster')}"}
        sizes = ", ".join(f"{s} MiB" for s in instance.get("disk.sizes") or [])
        found = {"ganeti": f"{instance.get('status')} on {instance.get('pnode')}" + (
                     f", secondary {', '.join(instance['snodes'])}" if instance.get("snodes") else ""),
                 "disks": f"{instance.get('disk_template')}: {sizes or 'none'}",
                 "hypervisor": machine.data.get("hypervisor", "?"), "os": str(instance.get("os")),
                 "ganeti nics": ", ".join(f"{mac} on {link}" for mac, link in zip(instance.get("nic.macs") or [],
                                                                                   instance.get("nic.links") or [], strict=False)) or "none"}
        if STATUS.get(instance.get("status")) == State.RUNNING:
            try:
                console = self.rapi.request("GET", f"/2/instances/{machine.name}/console")
                found["console"] = _console_text(console)
            except CreatureError:
                pass  # the console instructions are a courtesy: show the rest
        return found

    # lifecycle: each one RAPI job
    def start(self, machine: Machine) -> None:
        self.rapi.run("PUT", f"/2/instances/{machine.name}/startup")

    def stop(self, machine: Machine, timeout: float) -> StopResult:
        # Ganeti asks the guest (ACPI powerdown), checks every 5 s up to the timeout, then kills it and
        # sleeps 1 s: an op that lasted timeout + 1 s or more was forced
        seconds = math.ceil(timeout)
        record = self.rapi.run("PUT", f"/2/instances/{machine.name}/shutdown", {"timeout": seconds})
        return StopResult(forced=job_seconds(record) >= seconds + 1)

    def kill(self, machine: Machine) -> None:
        self.rapi.run("PUT", f"/2/instances/{machine.name}/shutdown", {"timeout": 0})

    def destroy(self, machine: Machine) -> None:
        try:
            self.rapi.run("DELETE", f"/2/instances/{machine.name}")
        except NotOnCluster:
            pass  # removed on the cluster already (gnt-instance remove, an earlier attempt)

    def migrate(self, machine: Machine, node: str | None) -> None:
        body = {"mode": "live"} | self._target(machine, node)
        self.rapi.run("PUT", f"/2/instances/{machine.name}/migrate", body)

    def failover(self, machine: Machine, node: str | None, timeout: float) -> None:
        body = {"shutdown_timeout": math.ceil(timeout)} | self._target(machine, node)
        self.rapi.run("PUT", f"/2/instances/{machine.name}/failover", body)

    def _target(self, machine: Machine, node: str | None) -> dict:
        """{"target_node": the full name} for node (none: the cluster's allocator chooses); its own node is refused."""
        if node is None:
            return {}
        target = self.node_name(node)
        instance = self._get_fresh(machine.name)
        if instance is not None and instance.get("pnode") == target:
            raise InputError(f"machine {machine.name!r} is on {target} already")
        return {"target_node": target}

    def plan(self, machine: Machine, action: str) -> list[list[str]]:
        # the RAPI requests the action submits (each a job, then awaited with GET /2/jobs/ID/wait)
        base = f"{self.rapi.base}/2/instances/{machine.name}"
        requests = {"start": [["PUT", f"{base}/startup"]],
                    "stop": [["PUT", f"{base}/shutdown", '{"timeout": TIMEOUT}']],
                    "kill": [["PUT", f"{base}/shutdown", '{"timeout": 0}']],
                    "destroy": [["DELETE", base]]}
        if action not in requests:
            raise NotImplementedError(action)
        return requests[action]


def _console_text(console: dict) -> str:
    command = console.get("command")
    shown = " ".join(command) if isinstance(command, list) else str(command or "")
    where = f"{console.get('user')}@{console.get('host')}" if console.get("host") else ""
    return f"{console.get('kind', '?')} {where}: {shown}".strip()
