"""`creature stats` counts each NIC's bytes the way the guest does, read on the host (veth or tap counters)."""

from __future__ import annotations

import subprocess
import sys

from creature.testing import ConsoleSession

from .conftest import NSENTER

# 2,000 datagrams of 1,000 bytes to a port nobody listens on: the guest receives much and answers little
SEND = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(2000):
    s.sendto(b"x" * 1000, ("10.78.0.50", 9))
"""
GUEST_COUNTERS = "cat /sys/class/net/eth0/statistics/rx_bytes /sys/class/net/eth0/statistics/tx_bytes"


def guest_counters(cli, driver_caps, name: str) -> tuple[int, int]:
    """(rx, tx) bytes of eth0 as the guest's own kernel counts them."""
    if driver_caps.exec:
        out = cli.ok("exec", name, "--", "sh", "-c", GUEST_COUNTERS).out
    else:
        with ConsoleSession.attach(cli.home, name) as console:
            console.login(timeout=90)
            status, out = console.run(GUEST_COUNTERS)
            assert status == 0, out
    rx, tx = (int(v) for v in out.split()[:2])
    return rx, tx


def test_stats_count_nic_bytes_as_the_guest_does(ncli, netns, guest_kind, creature_api):
    cli, kind = ncli, guest_kind
    cli.ok("template", "build", "nb", "--method", kind.template_method)
    cli.ok("network", "create", "lan", "--subnet", "10.78.0.0/24")
    cli.ok("create", "g1", "--driver", kind.driver, "--template", "nb", "--memory", "128M", "--network", "lan", "--ip", "10.78.0.50")
    cli.ok("start", "g1")
    cli.ok("wait-ip", "g1", "--timeout", str(kind.address_timeout))
    subprocess.run([NSENTER, f"--net=/run/netns/{netns.name}", sys.executable, "-c", SEND], check=True, timeout=60)
    rows = cli.ok("stats", "g1", "--format", "json", "--interval", "0").json()
    nics = rows[0]["nics"]
    mac = cli.ok("show", "g1", "--format", "json").json()["macs"][0]
    assert [n["mac"] for n in nics] == [mac]
    nic = nics[0]
    # a VM under TCG drains its tap slower than the datagrams come: the tap drops some (not counted as sent to it)
    assert nic["rx_bytes"] >= 200 * 1000 and nic["tx_bytes"] < nic["rx_bytes"] / 4, f"received and sent the wrong way round: {nic}"
    rx, tx = guest_counters(cli, creature_api.driver(kind.driver).capabilities, "g1")
    # the host counts what it handed the hypervisor, the guest what reached its kernel (a VM may drop a few frames
    # between the two); read a moment later, the guest's counters agree within a few percent
    for host_side, guest_side in ((nic["rx_bytes"], rx), (nic["tx_bytes"], tx)):
        assert abs(host_side - guest_side) <= max(64 * 1024, guest_side // 20), (nic, rx, tx)
