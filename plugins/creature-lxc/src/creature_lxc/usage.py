"""LXC machines' usage for `creature stats`, read on the host: the container's cgroups, its network namespace's
counters (/proc/PID/net/dev) and, with --disk, its writable layer's filesystem; nothing runs per machine."""

from __future__ import annotations

from pathlib import Path

from creature.sdk import MachineStats, cgroup_usage, children, fs_usage, guest_side, net_dev

from creature_lxc import states


def disk_image(machine) -> Path:
    """The ext4 image holding a container's writable layer (machines created with --disk)."""
    return machine.dir / "disk.ext4"


def disk_mount(machine) -> Path:
    """Where LXC's pre-mount hook mounts disk_image, in the container's mount namespace only."""
    return machine.dir / "disk"


def stats(machines) -> dict[str, MachineStats]:
    """Usage of each running container: its init (the lxc monitor's child) gives its cgroups and namespaces."""
    found = {}
    for machine in machines:
        monitor = states.monitor(machine)
        inits = children(monitor.pid) if monitor is not None and monitor.alive() else []
        usage = cgroup_usage(inits[0]) if inits else None
        if usage is None:
            continue  # not running, or it stopped meanwhile
        init = inits[0]
        cpu, used, limit = usage
        # an overlay reports its upper layer's filesystem: the image, seen through the container's root
        disk = fs_usage(f"/proc/{init}/root") if machine.spec.disk is not None else None
        found[machine.name] = MachineStats(cpu_seconds=cpu, memory_used=used, memory_limit=limit,
                                           disk_used=disk[0] if disk else None, disk_limit=disk[1] if disk else None,
                                           nics=guest_side(machine.spec.nics, net_dev(init)))
    return found
