"""libvirt machine states for `creature list`: one `virsh list --all` per daemon, without libvirt-python.

Importing libvirt-python and connecting cost more than the whole listing; virsh, libvirt's own client,
answers for every domain of a daemon at once. Imports neither pydantic nor the driver module (see
creature.registry.DriverRegistry.register). Domains are matched by name (creature names its domains after
its machines); the driver itself matches by UUID.
"""

from __future__ import annotations

import os

from creature.sdk import CreatureError, State, run, which

# virsh's words for virDomainState, as the driver maps the numbers (0 no state ... 7 pmsuspended)
WORDS = {"no state": State.UNKNOWN, "running": State.RUNNING, "idle": State.RUNNING, "paused": State.PAUSED,
         "in shutdown": State.RUNNING, "shut off": State.STOPPED, "crashed": State.CRASHED, "pmsuspended": State.PAUSED}


def daemon_states(uri: str) -> dict[str, State]:
    """Every domain of the daemon at uri: name -> state."""
    virsh = which("virsh")
    if virsh is None:
        raise CreatureError("virsh is not installed (Debian package libvirt-clients)")
    out = run([virsh, "-q", "-c", uri, "list", "--all"], timeout=30, env=os.environ | {"LC_ALL": "C"}).stdout
    found = {}
    for line in out.splitlines():
        parts = line.split(None, 2)  # Id (or -), Name, State (which may hold a space: "shut off")
        if len(parts) == 3:
            found[parts[1]] = WORDS.get(parts[2].strip(), State.UNKNOWN)
    return found


def states(machines) -> dict[str, State]:
    """Each machine's state from its daemon (data["uri"], written at create): one virsh call per daemon."""
    by_uri: dict[str, list] = {}
    for m in machines:
        uri = m.data.get("uri")
        if not uri:
            raise CreatureError(f"machine {m.name!r} records no libvirt URI")  # the full listing asks libvirt itself
        by_uri.setdefault(uri, []).append(m)
    out = {}
    for uri, group in by_uri.items():
        found = daemon_states(uri)
        out.update({m.name: found.get(m.name, State.UNKNOWN) for m in group})
    return out
