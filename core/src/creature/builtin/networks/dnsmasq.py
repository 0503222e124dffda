"""The dnsmasq that serves DHCP on one creature bridge: its config, process, reservations and leases."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from creature.errors import CreatureError
from creature.home import write_private
from creature.procs import ProcessRecord, run, which
from creature.records import Network

LEASE_SECONDS = 3600


@dataclass(frozen=True)
class Lease:
    """One line of a dnsmasq lease file."""

    expires: int
    mac: str
    ip: str
    hostname: str | None


def read_leases(path: Path, now: float | None = None) -> list[Lease]:
    """The unexpired leases in a dnsmasq lease file (a missing file has none)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    now = time.time() if now is None else now
    leases = []
    for line in text.splitlines():
        parts = line.split()
        # IPv6 leases follow a "duid" line and have an IAID instead of a MAC: only IPv4 is served here.
        if len(parts) < 4 or parts[0] == "duid" or ":" in parts[2]:
            continue
        expires = int(parts[0])
        if expires != 0 and expires < now:  # 0 means an infinite lease
            continue
        leases.append(Lease(expires, parts[1].lower(), parts[2], None if parts[3] == "*" else parts[3]))
    return leases


class Dnsmasq:
    """The dnsmasq of one network, its files in the network's folder; liveness checked by pid, start time and cmdline."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.conf = folder / "dnsmasq.conf"
        self.pidfile = folder / "dnsmasq.pid"
        self.leases = folder / "leases"
        self.hosts = folder / "hosts"
        self.log = folder / "dnsmasq.log"
        self.run_json = folder / "run.json"

    def config(self, network: Network) -> str:
        net = ipaddress.ip_network(network.subnet)
        return "\n".join([
            f"# written by creature for network {network.name}; creature restarts dnsmasq with it",
            f"interface={network.bridge}",
            # only the bridge: never the host's other interfaces, never DNS (port=0)
            "bind-interfaces",
            "except-interface=lo",
            "port=0",
            f"dhcp-range={network.dhcp_start},{network.dhcp_end},{net.netmask},{LEASE_SECONDS}",
            f"dhcp-option=option:router,{network.gateway}",
            "dhcp-authoritative",
            f"dhcp-leasefile={self.leases}",
            # creature's NICs all have reservations here; dnsmasq never pings before giving those,
            # so only unknown clients wait for its 3 s address-in-use ping.
            f"dhcp-hostsfile={self.hosts}",
            f"pid-file={self.pidfile}",
            f"log-facility={self.log}",
            # the network folder is 0700 root: dnsmasq must stay root to re-read the hosts file on SIGHUP
            "user=root",
            "group=root",
            "",
        ])

    def record(self) -> ProcessRecord | None:
        try:
            return ProcessRecord.from_dict(json.loads(self.run_json.read_text()).get("dnsmasq"))
        except (OSError, ValueError):
            return None

    def running(self) -> ProcessRecord | None:
        """The live dnsmasq process of this network, or None."""
        record = self.record()
        return record if record is not None and record.alive() else None

    def write_hosts(self, reservations: list[tuple[str, str]]) -> None:
        """Write the dhcp-host lines (MAC,IP) atomically and have a running dnsmasq re-read them."""
        tmp = self.hosts.with_suffix(".tmp")
        write_private(tmp, "".join(f"{mac},{ip}\n" for mac, ip in reservations))
        os.replace(tmp, self.hosts)
        record = self.running()
        if record is not None:
            os.kill(record.pid, signal.SIGHUP)

    def start(self, network: Network, prefix: list[str]) -> ProcessRecord:
        """Start dnsmasq in its own daemon mode: it returns once it listens, or fails with its error."""
        dnsmasq = which("dnsmasq")
        if dnsmasq is None:
            raise CreatureError("dnsmasq is not installed (Debian package dnsmasq-base)")
        write_private(self.conf, self.config(network))
        for path in (self.leases, self.log, self.hosts):
            if not path.exists():
                write_private(path, "")  # made 0600 before dnsmasq would make them world-readable
        self.pidfile.unlink(missing_ok=True)
        run([*prefix, dnsmasq, f"--conf-file={self.conf}"], timeout=30)
        record = None
        try:
            record = ProcessRecord.of(int(self.pidfile.read_text().strip()))
        except (OSError, ValueError):
            pass
        if record is None:
            raise CreatureError(f"dnsmasq for network {network.name!r} exited at once; see {self.log}")
        os.chmod(self.pidfile, 0o600)
        write_private(self.run_json, json.dumps({"dnsmasq": record.to_dict()}))
        return record

    def stop(self, timeout: float = 5) -> None:
        """Stop our dnsmasq (only the process we recorded), forcing it after timeout."""
        record = self.running()
        if record is not None:
            os.kill(record.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while record.alive():
                if time.monotonic() > deadline:
                    os.kill(record.pid, signal.SIGKILL)
                    deadline = time.monotonic() + timeout
                time.sleep(0.01)
        self.run_json.unlink(missing_ok=True)
        self.pidfile.unlink(missing_ok=True)
