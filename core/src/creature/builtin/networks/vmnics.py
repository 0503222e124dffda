"""NICs of VM drivers on creature networks: tap devices on a network's bridge, and what the guest is told.

QEMU and UML wire their NICs with these (through creature.sdk): bridge_for(home, nic), bridge_netns(home,
nic), tap_name(machine, index), create_taps/remove_taps(home, machine), and tell their guests what to
configure with guest_cmdline(home, nics).
"""

from __future__ import annotations

import ipaddress

from creature.builtin.networks import netns
from creature.builtin.networks.links import _ip, check_ifname, links
from creature.errors import CreatureError, NotFound
from creature.home import Home
from creature.inventory import Inventory
from creature.procs import run
from creature.records import Machine, Nic


def guest_nics(home: Home, nics: list[Nic]) -> list[Nic]:
    """The NICs as the guest should configure them: DHCP wherever creature's dnsmasq serves the reservation.

    Only a NIC with an address on a --no-dhcp network keeps it (as a CIDR), for a static guest configuration.
    """
    inventory = Inventory(home.inventory)
    try:
        found = []
        for nic in nics:
            network = inventory.network(nic.network) if nic.network else None
            if nic.ip and network is not None and not network.dhcp and network.subnet:
                found.append(nic.replace(ip=f"{nic.ip}/{ipaddress.ip_network(network.subnet).prefixlen}"))
            else:
                found.append(nic.replace(ip=None))
        return found
    finally:
        inventory.close()


# helpers for VM drivers (tap devices on a creature bridge)
def guest_cmdline(home: Home, nics: list[Nic]) -> list[str]:
    """Kernel command-line words telling a VM guest how to configure its NICs (busybox rcS reads them).

    A VM's copy-on-write disk cannot be adjusted like a container's rootfs, so the guest learns it at boot:
    `creature.dhcp=eth0,eth1` for DHCP, `creature.ip=eth2:10.79.0.5/24` for a static address.
    """
    if not nics:
        return []
    configured = guest_nics(home, nics)
    dhcp = [f"eth{i}" for i, nic in enumerate(configured) if nic.ip is None]
    words = [f"creature.dhcp={','.join(dhcp)}"] if dhcp else []
    return words + [f"creature.ip=eth{i}:{nic.ip}" for i, nic in enumerate(configured) if nic.ip is not None]


def bridge_for(home: Home, nic: Nic) -> str:
    """The bridge a NIC plugs into (its network's bridge)."""
    inventory = Inventory(home.inventory)
    try:
        network = inventory.network(nic.network) if nic.network else None
    finally:
        inventory.close()
    if network is None:
        raise NotFound(f"no network named {nic.network!r}")
    return network.bridge


def tap_name(machine: str, index: int) -> str:
    """A stable interface name (<= 15 chars) for a machine's index-th tap device."""
    import hashlib

    return f"ct{hashlib.sha1(machine.encode()).hexdigest()[:8]}n{index}"


def bridge_netns(home: Home, nic: Nic) -> list[str]:
    """An argv prefix running a command in the namespace of the NIC's bridge (its dnsmasq's); empty when that is ours.

    A VM driver makes its taps and runs its hypervisor there, so a machine started (or stopped) by a
    creature outside the network's namespace still plugs into (and unplugs from) the right bridge.
    """
    inventory = Inventory(home.inventory)
    try:
        network = inventory.network(nic.network) if nic.network else None
    finally:
        inventory.close()
    if network is None or network.external or not network.dhcp:
        return []  # no daemon pins its namespace: the bridge is taken to be ours
    from creature.builtin.networks.dnsmasq import Dnsmasq

    record = Dnsmasq(home.networks / network.name).running()
    return netns.enter_argv(record.pid) if record else []


def tap_commands(name: str, bridge: str, prefix: list[str] | None = None) -> list[list[str]]:
    """The commands create_tap runs (for a driver's --dry-run plan)."""
    check_ifname(name, "tap")
    return [[*(prefix or []), _ip(), "tuntap", "add", "dev", name, "mode", "tap"],
            [*(prefix or []), _ip(), "link", "set", name, "master", bridge, "up"]]


def create_tap(name: str, bridge: str, prefix: list[str] | None = None) -> None:
    """Make a tap device plugged into bridge and up (replacing a stale one of the same name); prefix: see bridge_netns.

    The tap keeps its own random MAC: the guest's MAC goes to the hypervisor (virtio-net mac=, UML eth=...,MAC).
    """
    check_ifname(name, "tap")
    remove_tap(name, prefix)
    run([*(prefix or []), _ip(), "-batch", "-"], input=f"tuntap add dev {name} mode tap\nlink set {name} master {bridge} up\n", timeout=30)


def remove_tap(name: str, prefix: list[str] | None = None) -> None:
    """Delete a tap device if it exists (in the namespace prefix enters)."""
    if name in links(prefix):
        run([*(prefix or []), _ip(), "link", "del", name], timeout=30)


def machine_netns(home: Home, machine: Machine) -> list[str]:
    """The argv prefix a VM's hypervisor runs under: its NICs' bridge namespace (the first NIC's; empty: ours)."""
    return bridge_netns(home, machine.spec.nics[0]) if machine.spec.nics else []


def _machine_taps(home: Home, machine: Machine) -> list[tuple[str, str, list[str]]]:
    return [(tap_name(machine.name, i), bridge_for(home, nic), bridge_netns(home, nic)) for i, nic in enumerate(machine.spec.nics)]


def create_taps(home: Home, machine: Machine) -> None:
    """A tap per NIC of a VM on its network's bridge, before the hypervisor opens them: all of them, or none."""
    made = []
    try:
        for tap, bridge, prefix in _machine_taps(home, machine):
            create_tap(tap, bridge, prefix)
            made.append((tap, prefix))
    except BaseException:
        for tap, prefix in made:
            remove_tap(tap, prefix)
        raise


def remove_taps(home: Home, machine: Machine) -> None:
    """Delete a VM's taps (after its hypervisor is gone); missing ones, or a vanished network, are fine."""
    for i, nic in enumerate(machine.spec.nics):
        try:
            prefix = bridge_netns(home, nic)
        except CreatureError:
            prefix = []
        remove_tap(tap_name(machine.name, i), prefix)


def taps_plan(home: Home, machine: Machine, action: str) -> list[list[str]]:
    """The commands create_taps ("create") or remove_taps ("remove") runs, for a VM driver's --dry-run."""
    if action == "create":
        return [argv for tap, bridge, prefix in _machine_taps(home, machine) for argv in tap_commands(tap, bridge, prefix)]
    return [[*bridge_netns(home, nic), _ip(), "link", "del", tap_name(machine.name, i)] for i, nic in enumerate(machine.spec.nics)]
