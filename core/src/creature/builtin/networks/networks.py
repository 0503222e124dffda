"""Creature networks: managed bridges with a dnsmasq each (or external bridges), NIC MAC/IP reservations.

VM drivers wire their NICs with creature.builtin.networks.vmnics (taps, the guest's command-line words).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path

from creature.builtin.networks import macs, netns
from creature.builtin.networks.dnsmasq import Dnsmasq, read_leases
from creature.builtin.networks.links import _ip, check_ifname, links
from creature.errors import CreatureError, InputError, NotFound
from creature.home import Home, write_private
from creature.inventory import Inventory
from creature.names import check_name
from creature.procs import run
from creature.records import MachineSpec, Network, Nic
from creature.templates import remove_tree


def _addresses(prefix: list[str] | None = None) -> list[tuple[str, ipaddress.IPv4Interface]]:
    out = run([*(prefix or []), _ip(), "-j", "-4", "addr", "show"]).stdout
    return [(link["ifname"], ipaddress.IPv4Interface(f"{a['local']}/{a['prefixlen']}"))
            for link in json.loads(out or "[]") for a in link.get("addr_info", []) if a.get("family") == "inet"]


def _hosts(net: ipaddress.IPv4Network) -> tuple[int, int]:
    """First and last usable host address (as integers)."""
    first, last = int(net.network_address) + 1, int(net.broadcast_address) - 1
    return first, last


def plan(name: str, subnet: str | None = None, gateway: str | None = None, dhcp_range: str | None = None,
         dhcp: bool = True, external: str | None = None, bridge: str | None = None) -> Network:
    """Validate what `network create` was given into a Network; nothing is touched."""
    check_name("network", name)
    if external is not None:
        if subnet or gateway or dhcp_range or bridge or not dhcp:
            raise InputError("--external BRIDGE takes no --subnet, --gateway, --dhcp-range, --bridge or --no-dhcp: its DHCP is elsewhere")
        return Network(name=name, bridge=check_ifname(external), dhcp=False, external=True)
    if subnet is None:
        raise InputError("a network needs --subnet CIDR (like 10.77.0.0/24), or --external BRIDGE")
    try:
        iface = ipaddress.ip_interface(subnet)
    except ValueError:
        raise InputError(f"invalid subnet {subnet!r}: use an IPv4 CIDR like 10.77.0.0/24") from None
    if iface.version != 4:
        raise InputError(f"subnet {subnet} is IPv6: creature networks serve IPv4 subnets (IPv6 addresses are still reported)")
    net = iface.network
    if net.prefixlen > 30:
        raise InputError(f"subnet {net} is too small: use a prefix of /30 or shorter")
    first, last = _hosts(net)
    if gateway is None:
        # 10.77.0.1/24 names its gateway; 10.77.0.0/24 gets the first host
        gateway = str(iface.ip) if iface.ip != net.network_address else str(net.network_address + 1)
    gw = _address_in(gateway, net, "gateway")
    hosts = [h for h in range(first, last + 1) if h != int(gw)]
    if dhcp_range is not None:
        parts = re.split(r"\s*[-,]\s*", dhcp_range.strip())
        if len(parts) != 2:
            raise InputError(f"invalid --dhcp-range {dhcp_range!r}: use FIRST-LAST, like 10.77.0.100-10.77.0.200")
        start, end = (_address_in(p, net, "DHCP range address") for p in parts)
        if int(start) > int(end):
            raise InputError(f"--dhcp-range {dhcp_range} starts after it ends")
        if int(start) <= int(gw) <= int(end):
            raise InputError(f"--dhcp-range {dhcp_range} contains the gateway {gw}")
    else:
        # the upper half serves unknown clients; the lower half is for creature's reservations
        dynamic = hosts[len(hosts) // 2:] if len(hosts) >= 8 else hosts
        start, end = ipaddress.IPv4Address(dynamic[0]), ipaddress.IPv4Address(dynamic[-1])
    bridge = check_ifname(bridge if bridge is not None else name)
    return Network(name=name, bridge=bridge, subnet=str(net), gateway=str(gw), dhcp_start=str(start),
                   dhcp_end=str(end), dhcp=dhcp, external=False)


def _address_in(value: str, net: ipaddress.IPv4Network, what: str) -> ipaddress.IPv4Address:
    try:
        addr = ipaddress.IPv4Address(value)
    except ValueError:
        raise InputError(f"invalid {what} {value!r}: not an IPv4 address") from None
    if addr not in net:
        raise InputError(f"{what} {addr} is outside the subnet {net}")
    if addr in (net.network_address, net.broadcast_address):
        raise InputError(f"{what} {addr} is the {'network' if addr == net.network_address else 'broadcast'} address of {net}")
    return addr


@dataclass
class NetworkStatus:
    """Whether a network's bridge exists here and its dnsmasq runs."""

    bridge: bool
    dnsmasq: int | None
    remote: bool = False  # an external bridge of a remote host: it is there, not here

    def state(self, network: Network) -> str:
        if network.external:
            return "remote" if self.remote else "external" if self.bridge else "missing"
        up = self.bridge and (self.dnsmasq is not None or not network.dhcp)
        return "up" if up else ("partial" if self.bridge or self.dnsmasq else "down")


class Networks:
    """The networks of one creature home: create, bring up, remove, reserve addresses for NICs."""

    def __init__(self, home: Home, inventory: Inventory):
        self.home = home
        self.inventory = inventory

    def folder(self, name: str) -> Path:
        return self.home.networks / name

    def dnsmasq(self, network: Network) -> Dnsmasq:
        return Dnsmasq(self.folder(network.name))

    def get(self, name: str) -> Network:
        check_name("network", name)
        network = self.inventory.network(name)
        if network is None:
            raise NotFound(f"no network named {name!r}")
        return network

    def list(self) -> list[Network]:
        return self.inventory.networks()

    def _prefix(self, network: Network) -> list[str]:
        """Commands about a network run where its dnsmasq runs (its bridge is in that namespace)."""
        record = self.dnsmasq(network).running() if not network.external else None
        return netns.enter_argv(record.pid) if record else []

    def remote(self) -> bool:
        """Whether this is a remote host's home (creature.builtin.remote): its external bridges are on that host, not here."""
        return (self.home.root / "host.json").is_file()

    def status(self, network: Network) -> NetworkStatus:
        if network.external and self.remote():
            return NetworkStatus(bridge=False, dnsmasq=None, remote=True)
        record = self.dnsmasq(network).running() if network.dhcp else None
        found = links(netns.enter_argv(record.pid) if record else [])
        return NetworkStatus(bridge=found.get(network.bridge) == "bridge", dnsmasq=record.pid if record else None)

    # create and remove
    def create(self, name: str, **options) -> Network:
        """Validate, make the bridge and dnsmasq, then record the network; bad input changes nothing."""
        network = plan(name, **options)
        with self.home.lock("network", name, blocking=False):
            if self.inventory.network(name) is not None:
                raise InputError(f"network {name!r} already exists")
            for other in self.list():
                if other.bridge == network.bridge:
                    raise InputError(f"bridge {network.bridge} is already used by network {other.name!r}")
                if network.subnet and other.subnet and ipaddress.ip_network(network.subnet).overlaps(ipaddress.ip_network(other.subnet)):
                    raise InputError(f"subnet {network.subnet} overlaps {other.subnet} of network {other.name!r}")
            present = links()
            folder = self.folder(name)
            if network.external:
                if present.get(network.bridge) != "bridge" and not self.remote():
                    what = "does not exist" if network.bridge not in present else f"is not a bridge ({present[network.bridge] or 'plain'} interface)"
                    raise InputError(f"external bridge {network.bridge} {what}")
                folder.mkdir(mode=0o700, exist_ok=True)
                write_private(folder / "network.json", json.dumps(network.to_dict(), indent=2))
                self.inventory.add_network(network)
                return network
            if network.bridge in present:
                raise InputError(f"interface name {network.bridge} is already in use here: choose another with --bridge")
            subnet = ipaddress.ip_network(network.subnet)
            for ifname, addr in _addresses():
                if addr.network.overlaps(subnet):
                    raise InputError(f"subnet {subnet} overlaps {addr.network} on interface {ifname}")
            if folder.exists():
                raise CreatureError(f"{folder} exists but is not in the inventory: remove it first")
            folder.mkdir(mode=0o700)
            try:
                # a mirror of the row, for `doctor --rebuild` of a damaged inventory
                write_private(folder / "network.json", json.dumps(network.to_dict(), indent=2))
                self._up(network)
                self.inventory.add_network(network)
            except BaseException:
                self._down(network)
                remove_tree(folder)
                raise
        return network

    def remove(self, name: str) -> None:
        """Stop the network's dnsmasq and delete its bridge; refused while machines use it."""
        network = self.get(name)
        with self.home.lock("network", name, blocking=False):
            users = self.inventory.users_of_network(name)
            if users:
                raise InputError(f"network {name!r} is used by {', '.join(users)}: destroy those machines first")
            if not network.external:
                self._down(network)
            remove_tree(self.folder(name))
            self.inventory.remove_network(name)

    # up and down
    def up(self, name: str) -> Network:
        """Make the bridge, its address and dnsmasq exist (idempotent: what is there already is kept)."""
        network = self.get(name)
        if network.external:
            if not self.remote() and links().get(network.bridge) != "bridge":
                raise CreatureError(f"external bridge {network.bridge} of network {name!r} does not exist")
            return network
        with self.home.lock("network", name):
            self.folder(name).mkdir(mode=0o700, exist_ok=True)
            self._up(network)
        return network

    def up_all(self) -> dict[str, str | None]:
        """Bring every network up (for `creature host up`): name -> None, or the error that stopped it."""
        results: dict[str, str | None] = {}
        for network in self.list():
            try:
                self.up(network.name)
                results[network.name] = None
            except CreatureError as exc:
                results[network.name] = str(exc)
        return results

    def _up(self, network: Network) -> None:
        daemon = self.dnsmasq(network)
        record = daemon.running() if network.dhcp else None
        prefix = netns.enter_argv(record.pid) if record else []
        kind = links(prefix).get(network.bridge)
        if kind is not None and kind != "bridge":
            raise CreatureError(f"interface {network.bridge} exists but is not a bridge ({kind or 'plain'} interface)")
        prefixlen = ipaddress.ip_network(network.subnet).prefixlen
        batch = [] if kind == "bridge" else [f"link add {network.bridge} type bridge"]
        batch += [f"address replace {network.gateway}/{prefixlen} brd + dev {network.bridge}", f"link set {network.bridge} up"]
        run([*prefix, _ip(), "-batch", "-"], input="\n".join(batch) + "\n", timeout=30)
        if network.dhcp:
            self.write_reservations(network)
            if record is None:
                daemon.start(network, prefix)

    def _down(self, network: Network) -> None:
        prefix = self._prefix(network)
        self.dnsmasq(network).stop()
        if links(prefix).get(network.bridge) == "bridge":
            run([*prefix, _ip(), "link", "del", network.bridge], timeout=30)

    # reservations and leases
    def write_reservations(self, network: Network | str) -> None:
        """Rewrite the network's dhcp-host file from the inventory (dnsmasq re-reads it on SIGHUP)."""
        if isinstance(network, str):
            network = self.inventory.network(network)
            if network is None:
                return
        if not network.dhcp or not self.folder(network.name).is_dir():
            return
        # serialised, so a writer holding an older inventory snapshot never lands last
        with self.home.lock("hosts", network.name):
            nics = self.inventory.nics(network.name)
            self.dnsmasq(network).write_hosts([(n["mac"], n["ip"]) for n in nics if n["ip"]])

    def leases(self, name: str) -> list[dict]:
        """The network's current DHCP leases, each with the machine its MAC belongs to."""
        network = self.get(name)
        if not network.dhcp:
            raise InputError(f"network {name!r} has no creature DHCP server ({'external' if network.external else '--no-dhcp'})")
        owners = {n["mac"]: n["machine"] for n in self.inventory.nics(name)}
        return [{"mac": lease.mac, "ip": lease.ip, "machine": owners.get(lease.mac), "hostname": lease.hostname,
                 "expires": lease.expires} for lease in read_leases(self.dnsmasq(network).leases)]

    def assign(self, spec: MachineSpec, mac_prefix: str, mac_max4: int = 0xFF) -> MachineSpec:
        """The spec with every NIC's MAC (under mac_prefix unless given) and reserved IP filled in and checked."""
        nics: list[Nic] = []
        for nic in spec.nics:
            if nic.network is None:
                raise InputError("every NIC needs a network: --network NAME (see `creature network list`)")
            network = self.get(nic.network)
            taken = {n.mac for n in nics}
            if nic.mac is not None:
                mac = macs.check_mac(nic.mac)
                owner = self.inventory.mac_in_use(mac)
                if owner is not None or mac in taken:
                    raise InputError(f"MAC address {mac} is already used by machine {owner or spec.name!r}")
            else:
                mac = macs.allocate(mac_prefix, lambda m: self.inventory.mac_in_use(m) is not None, taken, mac_max4)
            ip = self._reserve(network, mac, nic.ip, {n.ip for n in nics if n.network == network.name and n.ip})
            nics.append(Nic(network=network.name, mac=mac, ip=ip))
        return spec.replace(nics=tuple(nics))

    def _reserve(self, network: Network, mac: str, wanted: str | None, taken: set[str]) -> str | None:
        if network.external:
            if wanted is None:
                return None
            if not self.remote():
                raise InputError(f"--ip cannot be reserved on network {network.name!r}: it is external, its DHCP is elsewhere")
            # on a remote host the address goes to its hypervisor's manager (a Ganeti NIC's ip): unique, nothing reserved here
            try:
                ip = str(ipaddress.IPv4Address(wanted))
            except ValueError:
                raise InputError(f"invalid address {wanted!r}: not an IPv4 address") from None
            owner = next((n["machine"] for n in self.inventory.nics(network.name) if n["ip"] == ip), None)
            if owner is not None or ip in taken:
                raise InputError(f"address {ip} on network {network.name!r} is already given to machine {owner or '(this one)'!r}")
            return ip
        if not network.dhcp and wanted is None:
            return None  # nobody serves addresses there: the guest's own configuration decides
        subnet = ipaddress.ip_network(network.subnet)
        used = {n["ip"]: n["machine"] for n in self.inventory.nics(network.name) if n["ip"]}
        leased = {lease.ip: lease.mac for lease in read_leases(self.dnsmasq(network).leases) if lease.mac != mac}
        if wanted is not None:
            addr = _address_in(wanted, subnet, "address")
            ip = str(addr)
            if ip == network.gateway:
                raise InputError(f"address {ip} is the gateway of network {network.name!r}")
            if ip in used or ip in taken:
                raise InputError(f"address {ip} on network {network.name!r} is already reserved for machine {used.get(ip, '(this one)')!r}")
            if ip in leased:
                raise InputError(f"address {ip} on network {network.name!r} is leased to {leased[ip]} right now")
            return ip
        first, last = _hosts(subnet)
        start, end = int(ipaddress.IPv4Address(network.dhcp_start)), int(ipaddress.IPv4Address(network.dhcp_end))
        gateway = int(ipaddress.IPv4Address(network.gateway))
        busy = set(used) | taken | set(leased)
        outside = [h for h in range(first, last + 1) if not start <= h <= end]
        for h in outside + list(range(start, end + 1)):  # outside the dynamic range first
            ip = str(ipaddress.IPv4Address(h))
            if h != gateway and ip not in busy:
                return ip
        raise CreatureError(f"network {network.name!r} has no free address left in {subnet}")
