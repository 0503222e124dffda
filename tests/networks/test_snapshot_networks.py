"""Machines moved or restored on creature networks: imports get new MACs and addresses unless --keep-macs, and a
memory snapshot restored onto a stopped VM comes back on its network."""

from creature.testing import snapshot, wait_until


def _nics(cli, name):
    return [(n["network"], n["mac"], n["ip"]) for n in cli.ok("show", name, "--format", "json").json()["nics"]]


def test_import_gets_new_macs_unless_kept(ncli, busybox, tmp_path):
    cli = ncli
    cli.ok("network", "create", "lan", "--subnet", "10.81.0.0/24")
    cli.ok("create", "web", "--driver", "lxc", "--template", busybox, "--network", "lan")
    cli.ok("start", "web")
    cli.ok("stop", "web")
    archive = tmp_path / "web.tar.zst"
    cli.ok("export", "web", "-o", str(archive))
    [(_, mac, ip)] = _nics(cli, "web")
    # into the same home, beside the original: new MAC and address
    cli.ok("import", str(archive), "--name", "copy")
    [(network, new_mac, new_ip)] = _nics(cli, "copy")
    assert network == "lan" and new_mac != mac and new_ip != ip and new_mac.startswith("00:16:3e:")
    cli.ok("start", "copy")
    assert new_mac in cli.ok("exec", "copy", "--", "cat", "/sys/class/net/eth0/address").out
    wait_until(lambda: new_ip in cli("exec", "copy", "--", "ip", "-4", "addr", "show", "eth0").out, 30, 0.5,
               "the copy's DHCP lease at its own reservation")
    # keeping the MACs beside the original is refused (they are in use), and changes nothing
    before = snapshot(cli.home)
    clash = cli("import", str(archive), "--name", "twin", "--keep-macs")
    assert clash.code == 2 and "already used by machine 'web'" in clash.err, clash.err
    assert snapshot(cli.home) == before
    # once the original is gone, --keep-macs brings its MAC and address back
    cli.ok("destroy", "web")
    cli.ok("import", str(archive), "--keep-macs")
    assert _nics(cli, "web") == [("lan", mac, ip)]


def test_memory_snapshot_restored_onto_a_stopped_vm_comes_back_on_its_network(ncli, netns, creature_api, busybox):
    """Restoring a QEMU snapshot with memory starts the machine: its network is brought up and its tap plugged first,
    and the guest, running on from the saved moment, answers at its address again."""
    import shutil
    import subprocess

    from creature.testing import require_usable

    require_usable(creature_api, "qemu")
    ncli.ok("network", "create", "lan", "--subnet", "10.82.0.0/24")
    ncli.ok("create", "vm", "--driver", "qemu", "--template", busybox, "--memory", "128M", "--network", "lan")
    ncli.ok("start", "vm")
    ncli.ok("wait-ip", "vm", "--timeout", "90")
    ip = _nics(ncli, "vm")[0][2]

    def ping() -> bool:
        return subprocess.run(["nsenter", f"--net=/run/netns/{netns.name}", shutil.which("busybox"), "ping", "-c", "1",
                               "-W", "2", ip], capture_output=True).returncode == 0
    wait_until(ping, 60, 0.5, f"vm to answer at {ip}")
    ncli.ok("snapshot", "create", "vm", "live")
    ncli.ok("stop", "vm")
    assert not ping() and not [n for n in netns.links() if n.startswith("ct")], "stop unplugs the tap"
    ncli.ok("snapshot", "restore", "vm", "live")
    assert ncli.ok("show", "vm", "--format", "json").json()["state"] == "running"
    assert [n for n in netns.links() if n.startswith("ct")], "the restore plugged the tap again"
    wait_until(ping, 30, 0.5, f"the restored vm to answer at {ip}")
    ncli.ok("kill", "vm")
