"""A Debian guest on creature networks: its ifupdown configuration takes a DHCP lease under its own name, or a static address.

Bridges, dnsmasq and guests run in a network namespace this test makes and deletes.
"""

import os
import secrets
import shutil
import subprocess
import sys

import pytest
from creature.testing import CLI, Result, wait_until

pytestmark = pytest.mark.slow

IP = shutil.which("ip", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
NSENTER = shutil.which("nsenter")


class NetnsCLI(CLI):
    """`creature` run inside one network namespace (nsenter keeps /sys, which LXC's cgroup setup needs)."""

    def __init__(self, home, netns: str):
        super().__init__(home)
        self.netns = netns

    def __call__(self, *args: str, input: str | None = None, env: dict | None = None, timeout: float = 120) -> Result:
        proc = subprocess.run([NSENTER, f"--net=/run/netns/{self.netns}", sys.executable, "-m", "creature",
                               "--home", str(self.home), *args], capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL)
        return Result(proc.returncode, proc.stdout, proc.stderr)


def _reaches(cli, machine: str, address: str) -> bool:
    """True if a TCP connection from the guest to a closed port is refused by address (minbase has no ping)."""
    result = cli("exec", machine, "--", "bash", "-c", f"exec 3<>/dev/tcp/{address}/9")
    return "Connection refused" in result.err


@pytest.fixture
def ncli(lxc):
    """creature inside a fresh namespace on the session home; its machines, networks and namespace go afterwards."""
    if os.geteuid() != 0 or IP is None or NSENTER is None:
        pytest.skip("network namespaces need root, ip (iproute2) and nsenter (util-linux)")
    name = f"crt-{secrets.token_hex(4)}"
    subprocess.run([IP, "netns", "add", name], check=True, capture_output=True)
    cli = NetnsCLI(lxc.home, name)
    try:
        subprocess.run([IP, "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True)
        yield cli
    finally:
        api = lxc.api
        for machine in api.inventory.machines():
            if machine.spec.nics:
                try:
                    api.destroy(machine.name, force=True)
                except Exception as exc:  # keep cleaning; say what was left
                    print(f"cleanup of {machine.name} failed: {exc}", file=sys.stderr)
        for network in api.networks.list():
            if cli("network", "rm", network.name).code != 0:
                api.networks.dnsmasq(network).stop()
        subprocess.run([IP, "netns", "del", name], capture_output=True)


def test_debian_guest_leases_under_its_name(ncli):
    ncli.ok("network", "create", "lan", "--subnet", "10.77.0.0/24")
    ncli.ok("create", "dweb", "--driver", "lxc", "--template", "deb12", "--network", "lan")
    ncli.ok("start", "dweb")
    interfaces = ncli.ok("exec", "dweb", "--", "cat", "/etc/network/interfaces").out
    assert "auto eth0\niface eth0 inet dhcp\n    hostname dweb\n" in interfaces
    assert "127.0.1.1\tdweb" in ncli.ok("exec", "dweb", "--", "cat", "/etc/hosts").out
    waited = ncli.ok("wait-ip", "dweb", "--timeout", "60", "--format", "json").json()
    ip = [a["ip"] for a in waited if a["source"] == "dhcp-lease"][0]
    rows = ncli.ok("network", "leases", "lan", "--format", "json").json()
    [row] = [r for r in rows if r["ip"] == ip]
    # dhclient sent the name from the `hostname` line creature wrote into /etc/network/interfaces
    assert (row["machine"], row["hostname"]) == ("dweb", "dweb")
    assert f"inet {ip}/24" in ncli.ok("exec", "dweb", "--", "ip", "-4", "addr", "show", "eth0").out
    assert "default via 10.77.0.1 dev eth0" in ncli.ok("exec", "dweb", "--", "ip", "-4", "route").out
    assert _reaches(ncli, "dweb", "10.77.0.1")


def test_debian_guest_static_address_without_dhcp(ncli):
    ncli.ok("network", "create", "quiet", "--subnet", "10.78.0.0/24", "--no-dhcp")
    ncli.ok("create", "dstatic", "--driver", "lxc", "--template", "deb12", "--network", "quiet", "--ip", "10.78.0.9")
    ncli.ok("start", "dstatic")
    interfaces = ncli.ok("exec", "dstatic", "--", "cat", "/etc/network/interfaces").out
    assert "iface eth0 inet static\n    address 10.78.0.9\n    netmask 255.255.255.0\n" in interfaces

    def addressed():
        return "inet 10.78.0.9/24" in ncli("exec", "dstatic", "--", "ip", "-4", "addr", "show", "eth0").out
    wait_until(addressed, 30, 0.3, "the static address on eth0")
    assert _reaches(ncli, "dstatic", "10.78.0.1")
