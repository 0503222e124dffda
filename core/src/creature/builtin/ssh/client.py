"""ssh to a machine: its address as wait-ip finds it, its key, its own known_hosts, from its network's namespace.

The address is the first IPv4 address creature.builtin.networks.waiting finds (waiting up to a timeout for a
machine still booting). The key is the private half of the public key the machine was created with
(--ssh-key FILE.pub: FILE; else the home's, creature.builtin.ssh.keys). Host keys are checked against
known_hosts in the machine's folder: the first contact records the guest's key (accept-new), every later one
must match it, under the machine's name whatever its address. ssh runs in the namespace of the bridge's
dnsmasq, where the machine's network is, like the rest of creature's commands about it.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess

from creature.builtin.networks.vmnics import machine_netns
from creature.builtin.ssh.keys import identity_of
from creature.errors import CreatureError
from creature.procs import which

KNOWN_HOSTS = "known_hosts"


def ssh_argv(api, machine, address: str, argv: list[str]) -> list[str]:
    """The command line that logs in to machine at address as root (running argv there, if given)."""
    ssh = which("ssh")
    if ssh is None:
        raise CreatureError("ssh is not installed (Debian package openssh-client)")
    known = machine.dir / KNOWN_HOSTS
    if not known.exists():
        os.close(os.open(known, os.O_WRONLY | os.O_CREAT, 0o600))
    options = {"UserKnownHostsFile": str(known), "StrictHostKeyChecking": "accept-new", "HostKeyAlias": machine.name,
               "CheckHostIP": "no", "ConnectTimeout": "10", "LogLevel": "ERROR"}
    if not os.isatty(0):
        options["BatchMode"] = "yes"  # nobody could answer a password prompt
    identity = identity_of(machine.data["ssh_key"]) if machine.data.get("ssh_key") else None
    if identity is not None:
        options["IdentitiesOnly"] = "yes"
    command = [*machine_netns(api.home, machine), ssh, *(f"-o{k}={v}" for k, v in options.items())]
    if identity is not None:
        command += ["-i", str(identity)]
    command += ["-l", "root", address]
    if argv:
        # the words as exec takes them: one argv, quoted for the guest's shell (ssh would join them with spaces)
        command += ["--", shlex.join(argv)]
    return command


def address_of(api, name: str, timeout: float) -> str:
    """The machine's first IPv4 address, waited for up to timeout (creature.builtin.networks.waiting)."""
    import ipaddress

    found = api.wait_ip(name, timeout=timeout)
    usable = [a.ip for a in found if ":" not in a.ip and not ipaddress.ip_address(a.ip).is_loopback]
    if not usable:
        raise CreatureError(f"machine {name!r} has no address to reach it at (only {', '.join(a.ip for a in found)})")
    return usable[0]


def ssh(api, name: str, argv: list[str], timeout: float = 60) -> int:
    """Log in to machine name (or run argv there) and return ssh's exit status: the command's, or 255."""
    machine = api.machine(name)
    command = ssh_argv(api, machine, address_of(api, name, timeout), argv)
    # Ctrl-C belongs to ssh (and the guest's command) while it runs
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.call(command)
    finally:
        signal.signal(signal.SIGINT, previous)
