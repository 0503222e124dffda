"""`creature wait-ip`: until a machine runs and has an address, answering within milliseconds of its DHCP lease."""

from __future__ import annotations

import time

from creature.errors import CreatureError, InputError
from creature.records import Address
from creature.state import ADDRESSED


def wait_ip(api, name: str, timeout: float = 60, ipv6: bool = False) -> list[Address]:
    """Wait until the machine runs and has an IPv4 address (any address with ipv6); return its addresses.

    A stopped machine is waited for too (`start` may be on its way). Lease files are checked
    every 20 ms (a stat each), the state, neighbour table and driver every 0.5 s.
    """
    from creature.builtin.networks.addresses import AddressBook
    from creature.builtin.networks.dnsmasq import LEASE_SECONDS, read_leases

    if timeout < 0:
        raise InputError(f"timeout must not be negative (got {timeout:g})")
    machine = api.machine(name)
    driver = api.driver(machine.driver)
    if not machine.spec.nics:
        raise InputError(f"machine {name!r} has no network interface (create it with --network)")
    networks = [api.inventory.network(n) for n in dict.fromkeys(nic.network for nic in machine.spec.nics)]
    leases = [api.networks.dnsmasq(n).leases for n in networks if n is not None and n.dhcp]
    macs = {nic.mac for nic in machine.spec.nics}
    fresh_after = time.time() - 1 + LEASE_SECONDS  # the expiry of a lease granted after we began
    deadline = time.monotonic() + timeout
    seen: tuple = ()
    next_full = 0.0
    running = False
    while True:
        now = time.monotonic()
        stamps = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in leases)
        changed, seen = stamps != seen, stamps
        full = now >= next_full
        if full:
            next_full = now + 0.5
        if full or (changed and not running):
            running = driver.state(machine) in ADDRESSED
            if not running and changed:
                # a lease granted after we began is the machine's new one, even before `start` has recorded it
                running = any(lease.mac in macs and lease.expires >= fresh_after for p in leases for lease in read_leases(p))
        if running and (full or changed):
            book = AddressBook(api.networks)
            if not full:
                book.neighbours = []  # only a lease changed: answer from it without forking ip
            found = book.of(machine, driver.addresses(machine) if full else [])
            if any(ipv6 or ":" not in a.ip for a in found):
                return found
        if now > deadline:
            if not running:
                raise CreatureError(f"machine {name!r} is not running (waited {timeout:g} s for it to start)")
            raise CreatureError(f"machine {name!r} has no {'address' if ipv6 else 'IPv4 address'} after {timeout:g} s")
        time.sleep(0.02)
