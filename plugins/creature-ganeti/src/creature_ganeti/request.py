"""The instance a `create` asks a cluster for: its options, every check Ganeti would fail it for, and the RAPI body.

Everything that can be refused is refused here, before the template's image is made or anything is
sent: a bad option, a hypervisor or disk template the cluster or creature does not take, an unknown
node, the cluster's instance policy (ipolicy). Such refusals are InputErrors (exit 2).
"""

from __future__ import annotations

import re
from typing import Literal

from creature.sdk import InputError, Machine, Template, one_line
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from creature_ganeti.settings import HYPERVISORS, Cluster

SIZE_RE = re.compile(r"^\s*(\d+)\s*([mgt]?)(?:i?b)?\s*$", re.IGNORECASE)
POLICY_SPECS = {"disk-size": ("disk size", " MiB"), "memory-size": ("memory", " MiB"), "cpu-count": ("vCPUs", ""),
                "disk-count": ("disks", ""), "nic-count": ("NICs", ""), "spindle-use": ("spindles", "")}


def parse_size(value: str) -> int:
    """A disk size in MiB from 2048, 2048M, 2G, 1T (a bare number means MiB, as in gnt-instance)."""
    match = SIZE_RE.match(str(value))
    if not match:
        raise ValueError(f"invalid disk size {value!r}: a number with an optional unit M, G or T, like 2G")
    return int(match.group(1)) * {"": 1, "m": 1, "g": 1024, "t": 1024 * 1024}[match.group(2).lower()]


class Options(BaseModel):
    """What `create --option KEY=VALUE` takes for a Ganeti instance."""

    model_config = ConfigDict(extra="forbid")

    disk_template: str | None = None
    disk_size: int | None = None
    hypervisor: Literal["kvm", "fake"] | None = None

    @field_validator("disk_size", mode="before")
    @classmethod
    def _size(cls, value):
        return None if value is None else parse_size(value)


def parse_options(options: dict[str, str]) -> dict:
    """The options as values (disk_size in MiB); a bad one is an InputError of one line."""
    try:
        return Options.model_validate(options).model_dump()
    except ValidationError as exc:
        raise InputError(f"ganeti --option: {one_line(exc)}") from None


def policy_violations(ipolicy: dict, specs: dict[str, int]) -> list[str]:
    """What breaks the cluster's instance policy (Ganeti accepts an instance inside any one of its min/max ranges)."""
    found: list[list[str]] = []
    for bounds in ipolicy.get("minmax") or []:
        broken = []
        for key, value in specs.items():
            low, high = bounds.get("min", {}).get(key), bounds.get("max", {}).get(key)
            what, unit = POLICY_SPECS[key]
            if low is not None and value < low:
                broken.append(f"{what} {value}{unit} is below the cluster's instance policy minimum of {low}{unit}")
            elif high is not None and value > high:
                broken.append(f"{what} {value}{unit} is above the cluster's instance policy maximum of {high}{unit}")
        if not broken:
            return []
        found.append(broken)
    return found[0] if found else []


def policy_min(ipolicy: dict, key: str) -> int:
    """The least value of key any of the policy's ranges allows (0 without one)."""
    lows = [b.get("min", {}).get(key) for b in ipolicy.get("minmax") or []]
    return min((v for v in lows if v is not None), default=0)


def _refuse_policy(ipolicy: dict, specs: dict[str, int]) -> None:
    broken = policy_violations(ipolicy, specs)
    if broken:
        raise InputError("; ".join(broken))


class InstanceRequest:
    """The checked request for machine on cluster (info: GET /2/info); node is the full node name asked for, if any."""

    def __init__(self, cluster: Cluster, info: dict, machine: Machine, nics: list[dict], node: str | None):
        self.cluster, self.info, self.machine, self.nics, self.node = cluster, info, machine, nics, node
        spec, opts = machine.spec, parse_options(machine.spec.options)
        access = machine.access
        if access:
            raise InputError("ganeti takes no --ssh-key or --root-password: the template's image is copied as it is")
        name = info.get("name")
        enabled_hv = info.get("enabled_hypervisors") or []
        self.hypervisor = opts["hypervisor"] or cluster.hypervisor or info.get("default_hypervisor")
        if self.hypervisor not in enabled_hv or self.hypervisor not in HYPERVISORS:
            raise InputError(f"hypervisor {self.hypervisor!r} is not one creature drives on cluster {name} "
                             f"(enabled there: {', '.join(enabled_hv)}; creature: {', '.join(HYPERVISORS)})")
        enabled = info.get("enabled_disk_templates") or []
        self.disk_template = opts["disk_template"] or (enabled[0] if enabled else None)
        if self.disk_template not in enabled:
            raise InputError(f"disk template {self.disk_template!r} is not enabled on cluster {name} (enabled: {', '.join(enabled)})")
        if self.disk_template == "diskless":
            raise InputError("disk template 'diskless' has no disk for the template's root file system")
        self.ipolicy = info.get("ipolicy") or {}
        allowed = self.ipolicy.get("disk-templates")
        if allowed and self.disk_template not in allowed:
            raise InputError(f"disk template {self.disk_template!r} is outside the cluster's instance policy "
                             f"(allowed: {', '.join(allowed)})")
        self.disk_size = opts["disk_size"]
        self.specs = {"disk-size": self.disk_size or policy_min(self.ipolicy, "disk-size"), "memory-size": spec.memory,
                      "cpu-count": spec.cpus, "disk-count": 1, "nic-count": len(nics)}
        _refuse_policy(self.ipolicy, self.specs)
        if node is None and not info.get("default_iallocator"):
            raise InputError(f"cluster {name} has no default allocator: place the machine with --node NODE")

    def fit(self, template: Template, least_mib: int) -> int:
        """The disk size for an image of least_mib: the one asked for, else the least the image and the policy allow."""
        size = self.disk_size or max(least_mib, self.specs["disk-size"])
        if size < least_mib:
            raise InputError(f"disk_size {size} MiB is smaller than template {template.name}'s image ({least_mib} MiB)")
        _refuse_policy(self.ipolicy, self.specs | {"disk-size": size})
        return size

    def body(self, size: int, image: str, boot: dict | None) -> dict:
        """POST /2/instances: image is the template image's path on the nodes, boot the kvm hvparams (None: fake)."""
        spec = self.machine.spec
        body = {"__version__": 1, "mode": "create", "name": self.machine.name, "disk_template": self.disk_template,
                "disks": [{"size": size}], "nics": self.nics, "os_type": self.cluster.os, "osparams": {"image": image},
                "hypervisor": self.hypervisor, "beparams": {"maxmem": spec.memory, "minmem": spec.memory, "vcpus": spec.cpus},
                "start": False, "ip_check": False, "name_check": False, "wait_for_sync": False, "tags": ["creature"]}
        if boot is not None:
            body["hvparams"] = boot
        if self.node is not None:
            body["pnode"] = self.node
        return body
