"""Finding a machine's addresses: dnsmasq leases first, then the neighbour table, then the driver."""

from __future__ import annotations

import ipaddress
import json
from functools import cached_property

from creature.builtin.networks import netns
from creature.builtin.networks.dnsmasq import Lease, read_leases
from creature.builtin.networks.networks import Networks, _ip
from creature.procs import run
from creature.records import Address, Machine

# neighbour entries in these states do not say the address answers (or ever did)
_STALE = {"FAILED", "INCOMPLETE", "NOARP"}


class AddressBook:
    """One look at every lease file and the neighbour table, shared by all machines of a listing."""

    def __init__(self, networks: Networks):
        self.networks = networks
        self._leases: dict[str, list[Lease]] = {}

    def leases(self, network_name: str) -> list[Lease]:
        if network_name not in self._leases:
            network = self.networks.inventory.network(network_name)
            found: list[Lease] = []
            if network is not None and network.dhcp:
                found = read_leases(self.networks.dnsmasq(network).leases)
            self._leases[network_name] = found
        return self._leases[network_name]

    @cached_property
    def neighbours(self) -> list[tuple[str, str]]:
        """(mac, ip) of every usable neighbour entry of this namespace and of each running dnsmasq's namespace."""
        spaces: dict[int | None, list[str]] = {netns.of_pid("self"): []}
        for network in self.networks.list():
            record = self.networks.dnsmasq(network).running() if network.dhcp else None
            if record is not None:
                spaces.setdefault(netns.of_pid(record.pid), netns.enter_argv(record.pid))
        found = []
        for prefix in spaces.values():
            proc = run([*prefix, _ip(), "-j", "neigh", "show"], check=False, timeout=10)
            try:
                entries = json.loads(proc.stdout or "[]") if proc.returncode == 0 else []
            except ValueError:
                entries = []
            for entry in entries:
                mac, ip = entry.get("lladdr"), entry.get("dst")
                if mac and ip and not _STALE & set(entry.get("state", [])):
                    found.append((mac.lower(), ip))
        return found

    def of(self, machine: Machine, driver_addresses: list[Address] | None = None) -> list[Address]:
        """Each NIC's addresses with their source: dhcp-lease, neighbour, then what the driver knows."""
        found: list[Address] = []
        seen: set[tuple[str | None, str]] = set()

        def add(mac: str | None, ip: str, source: str) -> None:
            if (mac, ip) not in seen:
                seen.add((mac, ip))
                found.append(Address(mac=mac, ip=ip, source=source))

        for nic in machine.spec.nics:
            if nic.mac is None:
                continue
            for lease in self.leases(nic.network) if nic.network else []:
                if lease.mac == nic.mac:
                    add(nic.mac, lease.ip, "dhcp-lease")
        macs = {nic.mac for nic in machine.spec.nics if nic.mac}
        if macs:
            for mac, ip in self.neighbours:
                if mac in macs:
                    add(mac, ip, "neighbour")
        for address in driver_addresses or []:
            add(address.mac, address.ip, "driver" if address.source in ("", None) else address.source)
        order = {nic.mac: i for i, nic in enumerate(machine.spec.nics)}
        found.sort(key=lambda a: (order.get(a.mac, len(order)), ipaddress.ip_address(a.ip).version))
        return found
