"""A second libvirtd in its own network and mount namespace, reached over qemu+tcp, acts as a second host."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from creature.sdk import run, which


@pytest.fixture
def second_host(private_libvirtd):
    """A network namespace joined to ours by a veth pair, with its own libvirtd listening on TCP there."""
    if private_libvirtd is None or not private_libvirtd.records:
        pytest.skip("no private libvirtd in this session (the environment names another daemon, or it could not start)")
    from creature_libvirt.private_daemon import PrivateLibvirtd

    ip = which("ip")
    tag = f"{os.getpid() % 100000}"
    netns, outer, inner = f"crt-lvh-{tag}", f"lvh{tag}", f"lvn{tag}"
    subnet = f"10.213.{os.getpid() % 250}"
    root = Path(tempfile.mkdtemp(prefix="crt-lvh.", dir="/tmp"))
    daemon = PrivateLibvirtd(root, netns=netns, listen_addr=f"{subnet}.2")
    run([ip, "netns", "add", netns])
    try:
        run([ip, "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", netns])
        run([ip, "addr", "add", f"{subnet}.1/30", "dev", outer])
        run([ip, "link", "set", outer, "up"])
        for command in (["addr", "add", f"{subnet}.2/30", "dev", inner], ["link", "set", inner, "up"], ["link", "set", "lo", "up"]):
            run([ip, "-n", netns, *command])
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
        run([ip, "netns", "del", netns], check=False)  # takes the veth pair with it
        shutil.rmtree(root, ignore_errors=True)


def test_list_spans_hosts_and_survives_a_dead_one(second_host, creature_cli, creature_api):
    cli = creature_cli
    if not creature_api.probe("libvirt-lxc").usable:
        pytest.skip(f"libvirt-lxc is not usable here: {creature_api.probe('libvirt-lxc').reason}")
    uri = second_host.uri("qemu")
    cli.ok("host", "add", "h2", uri)
    assert cli.ok("host", "list", "--format", "json").json() == [{"name": "h2", "uri": uri}]
    cli.ok("template", "build", "bb", "--method", "busybox")
    cli.ok("--host", "h2", "template", "build", "bb", "--method", "busybox")
    cli.ok("create", "here", "--driver", "libvirt-lxc", "--template", "bb", "--memory", "64M")
    cli.ok("--host", "h2", "create", "there", "--template", "bb", "--memory", "64M")  # the host's default: libvirt-qemu
    cli.ok("--host", "h2", "start", "there")

    rows = cli.ok("list", "--all-hosts", "--format", "json").json()
    assert [(r["host"], r["name"], r["driver"], r["state"]) for r in rows] == [
        ("local", "here", "libvirt-lxc", "stopped"), ("h2", "there", "libvirt-qemu", "running")]
    # each machine lives in its own daemon, and only there
    virsh = which("virsh")
    remote = run([virsh, "-c", uri, "list", "--all", "--name"]).stdout.split()
    local = run([virsh, "-c", os.environ["CREATURE_LIBVIRT_QEMU_URI"], "list", "--all", "--name"]).stdout.split()
    assert "there" in remote and "there" not in local
    # a machine of this host only is refused on a remote one
    refused = cli("--host", "h2", "create", "bad", "--driver", "lxc", "--template", "bb")
    assert refused.code == 2 and "manages this host only" in refused.err

    second_host.stop()
    listing = cli("list", "--all-hosts", "--format", "json")
    assert listing.code == 0, listing.err
    rows = listing.json()
    assert [(r["host"], r["name"], r["state"]) for r in rows] == [("local", "here", "stopped"), ("h2", "-", "unreachable")]
    assert "cannot reach libvirt" in rows[1]["note"] and uri in rows[1]["note"]
    assert "creature: warning: host h2 is unreachable" in listing.err
    table = cli("list", "--all-hosts")
    assert table.code == 0 and table.out.splitlines()[0].split()[:3] == ["HOST", "NAME", "DRIVER"]
    # the remote machine itself is one line of error, not a traceback
    gone = cli("--host", "h2", "start", "there")
    assert gone.code == 1 and gone.err.startswith("creature: error: ") and "Traceback" not in gone.err


def test_host_add_rejects_bad_input(creature_cli):
    cli = creature_cli
    for args, message in ((["host", "add", "Bad_Name", "qemu:///system"], "invalid host name"),
                          (["host", "add", "h3", "not a uri"], "invalid URI"),
                          (["host", "add", "local", "qemu+ssh://x/system"], "names this host")):
        result = cli(*args)
        assert result.code == 2 and message in result.err, result.err
    assert cli.ok("host", "list", "--format", "json").json() == []
    unknown = cli("--host", "nowhere", "list")
    assert unknown.code == 2 and "no host named 'nowhere'" in unknown.err
    cli.ok("host", "add", "h3", "qemu+ssh://root@192.0.2.1/system")  # remembered only: nothing is contacted
    duplicate = cli("host", "add", "h3", "qemu:///system")
    assert duplicate.code == 2 and "already exists" in duplicate.err
    cli.ok("host", "rm", "h3")
    assert cli.ok("host", "list", "--format", "json").json() == []


def test_connection_comes_back_after_a_daemon_restart(second_host):
    """One long-lived connection: refused while the daemon is down, reopened by itself when it is back."""
    from creature.sdk import CreatureError
    from creature_libvirt.connection import Connection, Unreachable

    connection = Connection.to(second_host.uri("qemu"))
    connection.ping()
    first = connection.handle()
    second_host.stop()
    with pytest.raises(Unreachable, match="(lost the connection to|cannot reach) libvirt at qemu\\+tcp://"):
        connection.ping()
    second_host.start()
    try:
        connection.ping()
    except CreatureError as exc:
        pytest.fail(f"the connection did not come back: {exc}")
    assert connection.handle() is not first
