"""QEMU machines' usage for `creature stats`, read on the host: the QEMU process's CPU time and resident memory,
its disk's allocation and virtual size, and its taps' counters in the network namespace QEMU runs in."""

from __future__ import annotations

from creature.sdk import (
    CreatureError,
    MachineStats,
    allocated,
    host_side,
    net_dev,
    process_cpu,
    process_rss,
    qcow2_size,
    tap_name,
)

from creature_qemu import states
from creature_qemu.paths import Paths

MIB = 1024 * 1024


def stats(machines) -> dict[str, MachineStats]:
    """Usage of each machine whose recorded QEMU process runs (its vCPU threads are QEMU's threads)."""
    found = {}
    for machine in machines:
        record = states.record(machine)
        if record is None or not record.alive():
            continue
        disk = Paths(machine.dir).disk
        try:
            size = qcow2_size(disk)
        except (OSError, CreatureError):
            size = None  # stopped meanwhile, or a disk that is not qcow2
        # a tap's receive counter is what the guest sent (host_side swaps them)
        taps = [tap_name(machine.name, i) for i in range(len(machine.spec.nics))]
        found[machine.name] = MachineStats(
            cpu_seconds=process_cpu(record.pid), memory_used=process_rss(record.pid), memory_limit=machine.spec.memory * MIB,
            disk_used=allocated(disk), disk_limit=size, nics=host_side(machine.spec.nics, taps, net_dev(record.pid)))
    return found
