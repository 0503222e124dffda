"""UML machines' usage for `creature stats`, read on the host in one pass over /proc for all of them.

A UML guest is a group of host processes: the kernel (the recorded process) and one per guest address
space, where the guest's programs run. CPU time is the group's: the live members' plus what the kernel
process collected from members that ended. Memory is the kernel process's resident share of the guest's
memory file; disk is the COW file's allocation against the backing image's size; NICs are the taps.
"""

from __future__ import annotations

import os
from pathlib import Path

from creature.sdk import MachineStats, allocated, host_side, net_dev, process_cpu, process_groups, process_rss, tap_name

from creature_uml import states

MIB = 1024 * 1024


def stats(machines) -> dict[str, MachineStats]:
    """Usage of each machine whose recorded UML process runs."""
    groups, found = None, {}
    for machine in machines:
        record, pgid = states.run_info(machine)
        if record is None or pgid is None or not record.alive():
            continue
        if groups is None:
            groups = process_groups()
        members = [cpu for pid, cpu, started in groups.get(pgid, []) if pid != record.pid and started >= record.start_time]
        try:
            size = os.stat(machine.data["image"]).st_size
        except (OSError, KeyError):
            size = None
        taps = [tap_name(machine.name, i) for i in range(len(machine.spec.nics))]
        found[machine.name] = MachineStats(
            cpu_seconds=process_cpu(record.pid, children=True) + sum(members), memory_used=process_rss(record.pid),
            memory_limit=machine.spec.memory * MIB, disk_used=allocated(Path(machine.dir) / "disk.cow"), disk_limit=size,
            nics=host_side(machine.spec.nics, taps, net_dev(record.pid)))
    return found
