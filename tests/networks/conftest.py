"""Fixtures for network tests: a network namespace per test, creature run inside it, guests per driver.

Every bridge, dnsmasq and guest of a test lives in a namespace the test made (`ip netns add`) and is
removed with it, pass or fail. creature runs there through `nsenter --net=/run/netns/NS`, not
`ip netns exec`: the latter remounts /sys, which hides the cgroup hierarchy LXC needs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from creature.testing import CLI, ConsoleSession, Result, require_usable

IP = shutil.which("ip", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
NSENTER = shutil.which("nsenter")


class NetnsCLI(CLI):
    """The real `creature` command, run inside one network namespace."""

    def __init__(self, home: Path, netns: str):
        super().__init__(home)
        self.netns = netns

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
        proc = subprocess.run(
            [NSENTER, f"--net=/run/netns/{self.netns}", sys.executable, "-m", "creature", "--home", str(self.home), *args],
            input=input, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})),
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Netns:
    """A network namespace made for one test."""

    name: str

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([IP, "-n", self.name, *args], capture_output=True, text=True, check=check)

    def links(self) -> dict[str, str]:
        import json

        out = self.ip("-j", "-d", "link", "show").stdout
        return {link["ifname"]: link.get("linkinfo", {}).get("info_kind", "") for link in json.loads(out)}


def _stop_everything(home: Path) -> None:
    """Kill the home's machines and stop its dnsmasqs (only processes this test's creature started)."""
    from creature.testing import stop_home

    stop_home(home)


@pytest.fixture
def netns(creature_home):
    """A fresh network namespace (lo up); afterwards its guests and dnsmasqs are stopped and it is deleted."""
    if os.geteuid() != 0 or IP is None or NSENTER is None:
        pytest.skip("network namespaces need root, ip (iproute2) and nsenter (util-linux)")
    name = f"crt-{secrets.token_hex(4)}"
    subprocess.run([IP, "netns", "add", name], check=True, capture_output=True)
    ns = Netns(name)
    try:
        ns.ip("link", "set", "lo", "up")
        yield ns
    finally:
        _stop_everything(creature_home)
        subprocess.run([IP, "netns", "del", name], capture_output=True)


@pytest.fixture
def ncli(creature_home, netns) -> NetnsCLI:
    """`creature` on creature_home, inside the test's namespace."""
    return NetnsCLI(creature_home, netns.name)


@dataclass
class GuestKind:
    """How one driver's guests are made and probed in the network tests (QEMU and UML add theirs here)."""

    driver: str
    template_method: str = "busybox"
    create_args: tuple[str, ...] = ()
    address_timeout: float = 20

    def check_reach(self, cli: CLI, netns: Netns, api, addresses: dict[str, str], gateway: str) -> None:
        """Assert the guests reach each other and the gateway: with exec, else from a root shell on each one's console."""
        if api.driver(self.driver).capabilities.exec:
            for source in addresses:
                for target in [a for n, a in addresses.items() if n != source] + [gateway]:
                    result = cli("exec", source, "--", "ping", "-c", "1", "-W", "2", target)
                    assert result.code == 0, f"{source} cannot ping {target}: {result.out}{result.err}"
            return
        for source in addresses:
            with ConsoleSession.attach(cli.home, source) as console:
                console.login()
                for target in [a for n, a in addresses.items() if n != source] + [gateway]:
                    status, output = console.run(f"ping -c 1 -W 2 {target}")
                    assert status == 0, f"{source} cannot ping {target} (exit {status}):\n{output}"
        # and the gateway's side answers them
        for name, target in addresses.items():
            result = subprocess.run([NSENTER, f"--net=/run/netns/{netns.name}", BUSYBOX, "ping", "-c", "1", "-W", "2", target],
                                    capture_output=True, text=True)
            assert result.returncode == 0, f"the gateway cannot ping {name} at {target}: {result.stdout}{result.stderr}"


BUSYBOX = shutil.which("busybox")
GUEST_KINDS = [GuestKind("lxc"), GuestKind("qemu", address_timeout=90), GuestKind("uml", address_timeout=60)]


@pytest.fixture(params=GUEST_KINDS, ids=lambda k: k.driver)
def guest_kind(request, creature_api) -> GuestKind:
    """Each driver whose guests join creature networks; unusable ones skip with the probe's reason (or fail if required)."""
    kind: GuestKind = request.param
    if not require_usable(creature_api, kind.driver).capabilities.networks:
        pytest.skip(f"driver {kind.driver} does not declare Capabilities(networks=True) yet: its NICs are not wired to creature networks")
    return kind
