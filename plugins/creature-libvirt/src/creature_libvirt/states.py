"""libvirt machine states for `creature list`: one virsh call per daemon, without libvirt-python.

Importing libvirt-python and connecting cost more than the whole listing; virsh, libvirt's own client,
answers for every domain of a daemon at once: `virsh domstats --state` in one bulk call
(virConnectGetAllDomainStats), or where the driver has none (libvirt LXC) `virsh list --all`, which asks
each domain's state in turn. Imports neither pydantic nor the driver module (see
creature.registry.DriverRegistry.register). Domains are matched by name (creature names its domains after
its machines); the driver itself matches by UUID.
"""

from __future__ import annotations

import os

from creature.sdk import CommandFailed, CreatureError, State, run, which

# virDomainState (stable ABI), as the driver maps it: 0 no state ... 7 pmsuspended
NUMBERS = {0: State.UNKNOWN, 1: State.RUNNING, 2: State.RUNNING, 3: State.PAUSED, 4: State.RUNNING,
           5: State.STOPPED, 6: State.CRASHED, 7: State.PAUSED}
# virsh list's words for the same states
WORDS = {"no state": State.UNKNOWN, "running": State.RUNNING, "idle": State.RUNNING, "paused": State.PAUSED,
         "in shutdown": State.RUNNING, "shut off": State.STOPPED, "crashed": State.CRASHED, "pmsuspended": State.PAUSED}
# the drivers of libvirt without virConnectGetAllDomainStats
NO_BULK_STATS = ("lxc",)


def _virsh(uri: str, *args: str) -> str:
    virsh = which("virsh")
    if virsh is None:
        raise CreatureError("virsh is not installed (Debian package libvirt-clients)")
    return run([virsh, "-q", "-c", uri, *args], timeout=30, env=os.environ | {"LC_ALL": "C"}).stdout


def _from_domstats(out: str) -> dict[str, State]:
    # Domain: 'NAME' then indented key=value lines
    found, name = {}, None
    for line in out.splitlines():
        if line.startswith("Domain: "):
            name = line[len("Domain: "):].strip().strip("'")
        elif name is not None and line.strip().startswith("state.state="):
            found[name] = NUMBERS.get(int(line.partition("=")[2]), State.UNKNOWN)
    return found


def _from_list(out: str) -> dict[str, State]:
    found = {}
    for line in out.splitlines():
        parts = line.split(None, 2)  # Id (or -), Name, State (which may hold a space: "shut off")
        if len(parts) == 3:
            found[parts[1]] = WORDS.get(parts[2].strip(), State.UNKNOWN)
    return found


def daemon_states(uri: str) -> dict[str, State]:
    """Every domain of the daemon at uri: name -> state."""
    if not uri.startswith(NO_BULK_STATS):
        try:
            return _from_domstats(_virsh(uri, "domstats", "--state"))
        except CommandFailed as exc:
            if "not supported" not in str(exc):
                raise  # an unreachable daemon says so; only a driver without bulk stats falls back
    return _from_list(_virsh(uri, "list", "--all"))


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
