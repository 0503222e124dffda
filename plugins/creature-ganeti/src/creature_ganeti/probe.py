"""The ganeti driver's probe: each thing a cluster needs before creature can use it, checked on the cluster now."""

from __future__ import annotations

import os

from creature.sdk import Check, CreatureError, Probe

from creature_ganeti.settings import HYPERVISORS, Cluster

NO_CLUSTER = ("no Ganeti cluster here: add one with `creature host add NAME --driver ganeti https://HOST:5080 "
              "--user U --password-file F --option image_dir=DIR` and work on it with --host NAME")


def probe(name: str, cluster: Cluster | None, info) -> Probe:
    """RAPI (reachable, TLS, credentials), a hypervisor creature drives, nodes that run instances, the OS definition,
    the image folder. info() is GET /2/info (cached by the driver)."""
    if cluster is None:
        return Probe.of(name, [Check(name="cluster", ok=False, reason=NO_CLUSTER)])
    try:
        found = info()
    except CreatureError as exc:
        return Probe.of(name, [Check(name="rapi", ok=False, reason=str(exc))])
    checks = [Check(name="rapi", ok=True, reason=f"Ganeti {found.get('software_version', '?')} cluster {found.get('name')} "
                    f"answers at {cluster.url} as {cluster.user}")]
    enabled = found.get("enabled_hypervisors") or []
    usable = [h for h in enabled if h in HYPERVISORS]
    checks.append(Check(name="hypervisor", ok=bool(usable), reason=f"hypervisors creature drives there: {', '.join(usable)}"
                        if usable else f"the cluster enables {', '.join(enabled) or 'no hypervisor'}; creature drives "
                        f"{' and '.join(HYPERVISORS)} instances only"))
    try:
        nodes = cluster.rapi.request("GET", "/2/nodes?bulk=1")
        oses = cluster.rapi.request("GET", "/2/os")
    except CreatureError as exc:
        return Probe.of(name, [*checks, Check(name="nodes", ok=False, reason=str(exc))])
    # a node whose hypervisor and node daemon answer reports its memory; an offline or broken one does not
    ready = [n["name"] for n in nodes if n.get("vm_capable", True) and not n.get("offline") and n.get("mtotal")]
    checks.append(Check(name="nodes", ok=bool(ready), reason=f"{len(ready)} of {len(nodes)} nodes run instances: "
                        f"{', '.join(ready)}" if ready else f"none of the {len(nodes)} nodes reports a working hypervisor "
                        "(offline, not vm_capable, or its node daemon does not answer)"))
    checks.append(Check(name="os", ok=cluster.os in oses, reason=f"OS definition {cluster.os} is valid on every node"
                        if cluster.os in oses else f"OS definition {cluster.os} is not valid on every node (valid: "
                        f"{', '.join(oses) or 'none'}): install it with `creature ganeti os-definition "
                        f"/srv/ganeti/os/{cluster.os.partition('+')[0]}` on each node"))
    writable = cluster.image_dir.is_dir() and os.access(cluster.image_dir, os.W_OK)
    checks.append(Check(name="images", ok=writable, reason=f"image folder {cluster.image_dir} (on the nodes: "
                        f"{cluster.node_image_dir})" if writable else f"image folder {cluster.image_dir} is missing or "
                        "not writable here"))
    return Probe.of(name, checks)
