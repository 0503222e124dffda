"""libvirt machines' usage for `creature stats`, from libvirt itself (so remote hosts answer too).

QEMU domains: one getAllDomainStats call for every domain of the daemon (CPU time, QEMU's resident memory,
the disk's allocation and capacity, each interface's bytes as the guest counts them). libvirt's LXC driver
has no bulk call: one listing, then per running container its info (CPU time, memory) and the counters of
each NIC (looked up by MAC); the root image's filesystem usage is read through the container's /proc root,
which only a local daemon's containers have here.
"""

from __future__ import annotations

from creature.sdk import CreatureError, MachineStats, NicStats, children, fs_usage

_RUNNING, _PAUSED = 1, 3
KIB = 1024


def stats(driver, machines) -> dict[str, MachineStats]:
    """Usage of the running machines among machines, on driver's daemon."""
    if driver.name == "libvirt-qemu":
        return _qemu(driver, machines)
    return _lxc(driver, machines)


def _qemu(driver, machines) -> dict[str, MachineStats]:
    from creature_libvirt.connection import libvirt

    kinds = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL | libvirt.VIR_DOMAIN_STATS_BALLOON
             | libvirt.VIR_DOMAIN_STATS_INTERFACE | libvirt.VIR_DOMAIN_STATS_BLOCK)
    by_uuid = {dom.UUIDString(): s for dom, s in driver.connection.call("getAllDomainStats", kinds, 0)}
    found = {}
    for machine in machines:
        s = by_uuid.get(machine.data.get("uuid"))
        if s is None or s.get("state.state") not in (_RUNNING, _PAUSED):
            continue
        # net.N follows the domain XML's interfaces, which follow the spec's NICs
        nics = [NicStats(name=s[f"net.{i}.name"], mac=nic.mac, rx_bytes=s[f"net.{i}.rx.bytes"], tx_bytes=s[f"net.{i}.tx.bytes"])
                for i, nic in enumerate(machine.spec.nics) if f"net.{i}.name" in s]
        found[machine.name] = MachineStats(
            cpu_seconds=s.get("cpu.time", 0) / 1e9,
            memory_used=s["balloon.rss"] * KIB if "balloon.rss" in s else None,
            memory_limit=s["balloon.maximum"] * KIB if "balloon.maximum" in s else machine.spec.memory * KIB * KIB,
            disk_used=s.get("block.0.allocation"), disk_limit=s.get("block.0.capacity"), nics=nics)
    return found


def _lxc(driver, machines) -> dict[str, MachineStats]:
    connection = driver.connection
    by_uuid = {dom.UUIDString(): dom for dom in connection.domains()}
    local = "://" not in driver.uri or driver.uri.split("://", 1)[1].startswith("/")
    found = {}
    for machine in machines:
        dom = by_uuid.get(machine.data.get("uuid"))
        if dom is None:
            continue
        try:
            state, max_kib, used_kib, _vcpus, cpu_ns = connection.call("info", target=dom)
        except CreatureError:
            continue  # shut off meanwhile
        if state not in (_RUNNING, _PAUSED):
            continue
        nics = []
        for i, nic in enumerate(machine.spec.nics):
            try:
                # libvirt counts a container's veth the way the guest sees it
                counters = connection.call("interfaceStats", nic.mac, target=dom)
            except CreatureError:
                continue
            nics.append(NicStats(name=f"eth{i}", mac=nic.mac, rx_bytes=counters[0], tx_bytes=counters[4]))
        disk = None
        if machine.spec.disk is not None and local:
            # the domain ID is the libvirt_lxc controller's pid; its child is the container's init
            inits = children(connection.call("ID", target=dom))
            disk = fs_usage(f"/proc/{inits[0]}/root") if inits else None
        found[machine.name] = MachineStats(cpu_seconds=cpu_ns / 1e9, memory_used=used_kib * KIB, memory_limit=max_kib * KIB,
                                           disk_used=disk[0] if disk else None, disk_limit=disk[1] if disk else None, nics=nics)
    return found
