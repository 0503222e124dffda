"""Into a Debian guest with openssh-server and qemu-guest-agent, per driver that runs here: plain ssh with the key create
was given, `creature exec`'s exit status, and `creature ssh` with the guest's host key checked.

Every bridge, dnsmasq, guest and the libvirt drivers' libvirtd run in a network namespace the test makes and deletes.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from creature.testing import CLI, Result, cleanup_home, make_home, require_usable, wait_until

pytestmark = pytest.mark.slow

IP = shutil.which("ip", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
NSENTER = shutil.which("nsenter")
SSH = shutil.which("ssh")
PACKAGES = "openssh-server,qemu-guest-agent"
BOOT = {"lxc": 60, "qemu": 240, "uml": 180, "libvirt-qemu": 240, "libvirt-lxc": 60}


class NetnsCLI(CLI):
    """`creature` run inside one network namespace, with this CLI's own environment (a libvirtd's URI)."""

    def __init__(self, home: Path, netns: str):
        super().__init__(home)
        self.netns = netns

    def __call__(self, *args: str, input: str | None = None, env: dict | None = None, timeout: float = 300) -> Result:
        proc = subprocess.run([NSENTER, f"--net=/run/netns/{self.netns}", sys.executable, "-m", "creature",
                               "--home", str(self.home), *args], input=input, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, **self.env, **(env or {})),
                              stdin=None if input is not None else subprocess.DEVNULL)
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def debian_ssh():
    """A home with template debssh: bookworm minbase with openssh-server and qemu-guest-agent (debootstrap's cache keeps it)."""
    from creature.procs import which

    if which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (Debian package debootstrap; `make apt` installs it)")
    home = make_home()
    try:
        CLI(home).ok("template", "build", "debssh", "--method", "debootstrap", "--suite", "bookworm", "--include", PACKAGES,
                     timeout=1800)
        yield home
    finally:
        cleanup_home(home)


@pytest.fixture(scope="module")
def key(tmp_path_factory) -> Path:
    """An SSH key pair of the test's own (the private key; its public half beside it, .pub)."""
    folder = tmp_path_factory.mktemp("key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "id")], check=True)
    return folder / "id"


@pytest.fixture
def lan(debian_ssh):
    """creature in a fresh namespace on the module's home, with network lan; everything of it goes afterwards."""
    if os.geteuid() != 0 or IP is None or NSENTER is None or SSH is None:
        pytest.skip("needs root, ip (iproute2), nsenter (util-linux) and ssh (openssh-client)")
    name = f"crt-{secrets.token_hex(4)}"
    subprocess.run([IP, "netns", "add", name], check=True, capture_output=True)
    cli = NetnsCLI(debian_ssh, name)
    daemons = []
    try:
        subprocess.run([IP, "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True)
        cli.ok("network", "create", "lan", "--subnet", "10.81.0.0/24")
        yield cli, daemons
    finally:
        from creature.api import Creature

        api = Creature(debian_ssh)
        for machine in api.inventory.machines():
            cli("destroy", "--force", machine.name)
        for daemon in daemons:
            daemon.stop()
            shutil.rmtree(daemon.root, ignore_errors=True)
        cli("network", "rm", "lan")
        api.inventory.close()
        subprocess.run([IP, "netns", "del", name], capture_output=True)


def _libvirtd_in(cli: NetnsCLI, daemons: list) -> None:
    """A private libvirtd in the test's namespace, where the bridge of lan is (its unix socket reaches it from anywhere)."""
    from creature_libvirt.private_daemon import PrivateLibvirtd

    daemon = PrivateLibvirtd(Path(tempfile.mkdtemp(prefix="crt-lva.", dir="/tmp")), netns=cli.netns)
    daemons.append(daemon)
    daemon.start()
    cli.env = {"CREATURE_LIBVIRT_QEMU_URI": daemon.uri("qemu"), "CREATURE_LIBVIRT_LXC_URI": daemon.uri("lxc")}


def _plain_ssh(cli: NetnsCLI, key: Path, address: str, known: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run([NSENTER, f"--net=/run/netns/{cli.netns}", SSH, "-i", str(key), "-o", "IdentitiesOnly=yes",
                           "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes",
                           "-o", "ConnectTimeout=5", f"root@{address}", *command],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("driver", ["lxc", "qemu", "uml", "libvirt-qemu", "libvirt-lxc"])
def test_ssh_with_the_key_exec_and_creature_ssh(driver, lan, key, creature_api, tmp_path):
    cli, daemons = lan
    require_usable(creature_api, driver)
    if driver.startswith("libvirt"):
        _libvirtd_in(cli, daemons)
    name = f"acc-{driver.replace('libvirt-', 'lv')}"
    cli.ok("create", name, "--driver", driver, "--template", "debssh", "--network", "lan", "--ssh-key", f"{key}.pub",
           "--memory", "256M")
    cli.ok("start", name)
    address = next(a["ip"] for a in cli.ok("wait-ip", name, "--timeout", str(BOOT[driver]), "--format", "json").json()
                   if ":" not in a["ip"])
    # plain ssh, from the namespace the network lives in, with the key create was given: sshd comes up after the lease
    known = tmp_path / "known_hosts"
    plain = wait_until(lambda: (lambda r: r if r.returncode == 0 else None)(_plain_ssh(cli, key, address, known, "hostname")),
                       BOOT[driver], 1, f"ssh -i KEY root@{address} hostname to answer in the {driver} guest")
    assert plain.stdout == f"{name}\n"
    # exec: through the guest's qemu-ga (qemu, libvirt-qemu), creature's agent (uml), lxc-attach (lxc)
    result = cli("exec", name, "--", "sh", "-c", "echo hi; exit 3")
    assert (result.code, result.out) == (3, "hi\n"), result
    # creature ssh: the address, the key and a known_hosts of the machine's own; the command's status comes back
    assert cli.ok("ssh", name, "--", "hostname").out == f"{name}\n"
    failed = cli("ssh", name, "--", "sh", "-c", "echo 'two words' $((40 + 2)); exit 5")
    assert (failed.code, failed.out) == (5, "two words 42\n"), failed
    from creature.api import Creature

    recorded = (Creature(cli.home).machine(name).dir / "known_hosts").read_text()
    assert recorded.strip() and oct((Creature(cli.home).machine(name).dir / "known_hosts").stat().st_mode & 0o777) == "0o600"


def test_creature_ssh_checks_the_host_key(lan, creature_api, tmp_path):
    """A guest whose host key differs from the one recorded at the first login is refused, never accepted."""
    cli, _ = lan
    require_usable(creature_api, "lxc")
    cli.ok("create", "hk", "--driver", "lxc", "--template", "debssh", "--network", "lan")  # the home's key goes in
    cli.ok("start", "hk")
    wait_until(lambda: cli("ssh", "hk", "--", "true").code == 0, 60, 1, "creature ssh hk to log in")
    from creature.api import Creature

    known = Creature(cli.home).machine("hk").dir / "known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()
    known.write_text(f"hk {other[0]} {other[1]}\n")
    refused = cli("ssh", "hk", "--", "hostname")
    assert refused.code == 255 and refused.out == "", refused
    assert "Host key verification failed" in refused.err or "IDENTIFICATION HAS CHANGED" in refused.err, refused.err
