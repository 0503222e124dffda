"""create --ssh-key / --root-password / network configuration in a busybox guest, end to end through the CLI."""

from creature.testing import snapshot, wait_until


def test_busybox_guest_adjusted_with_access(lxc_home, creature_cli, creature_home, tmp_path):
    key = tmp_path / "k.pub"
    key.write_text("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQTestKey me@host\n")
    creature_cli.ok("create", "bx", "--driver", "lxc", "--template", "bb", "--ssh-key", str(key), "--root-password", "pw1")
    delta = lxc_home.machine("bx").dir / "delta"
    assert (delta / "root/.ssh/authorized_keys").read_text().startswith("ssh-rsa AAAAB3")
    assert oct((delta / "root/.ssh/authorized_keys").stat().st_mode & 0o777) == "0o600"
    assert "eth0" not in (delta / "etc/network/interfaces").read_text(), "no NIC, no DHCP client"
    hashed = (delta / "etc/passwd").read_text().split(":")[1]
    assert hashed.startswith("$6$")
    assert hashed not in lxc_home.inventory.dump() and "pw1" not in lxc_home.inventory.dump()
    # nowhere in creature's own state either: only the guest's files hold the hash
    for path in creature_home.rglob("*"):
        if path.is_file() and "delta" not in path.relative_to(creature_home).parts:
            assert hashed.encode() not in path.read_bytes(), path
    creature_cli.ok("start", "bx")
    wait_until(lambda: creature_cli("exec", "bx", "--", "hostname").out.strip() == "bx", 20, 0.2, "exec hostname")
    assert "iface lo inet loopback" in creature_cli.ok("exec", "bx", "--", "cat", "/etc/network/interfaces").out


def test_bad_ssh_key_changes_nothing(lxc_home, creature_cli, creature_home, tmp_path):
    key = tmp_path / "k.pub"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    before = snapshot(creature_home)
    r = creature_cli("create", "bx", "--driver", "lxc", "--template", "bb", "--ssh-key", str(key))
    assert r.code == 2 and "is not an SSH public key" in r.err
    assert snapshot(creature_home) == before
