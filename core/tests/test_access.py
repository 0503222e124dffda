"""SSH keys and root password hashes on their way into guests: the home's key pair, the archive appended to the
initramfs of VM guests, the machine's data for `creature ssh`, and the ssh command line it runs."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from creature.builtin.guest.access import access_entries, boot_initramfs, write_access
from creature.builtin.guest.adjust import Access
from creature.builtin.ssh.keys import forget_key, home_key, identity_of
from creature.home import Home
from creature.procs import which

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAccessTestKeyAccessTestKeyAccessTestKey0 op@host"


def test_the_archive_holds_keys_hash_and_a_fresh_id(tmp_path):
    access = Access(ssh_keys=(KEY,), root_password_hash="$6$salt$hash")
    entries = {name: (mode, data) for name, mode, data in access_entries(access)}
    assert entries["creature/access/authorized_keys"] == (0o100600, f"{KEY}\n".encode())
    assert entries["creature/access/root-hash"] == (0o100600, b"$6$salt$hash")
    assert entries["creature/access"][0] == 0o040700
    again = {name: data for name, _, data in access_entries(access)}
    assert again["creature/access/id"] != entries["creature/access/id"][1], "each machine's archive is applied once, by its id"
    assert access_entries(None) == [] and access_entries(Access()) == [] and write_access(tmp_path, Access()) is None
    path = write_access(tmp_path, access)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    if which("cpio") is None:
        pytest.skip("cpio (Debian package cpio) reads the archive back")
    listed = subprocess.run(["cpio", "-it", "--quiet"], input=path.read_bytes(), capture_output=True, check=True).stdout
    assert sorted(listed.decode().split()) == ["creature", "creature/access", "creature/access/authorized_keys",
                                               "creature/access/id", "creature/access/root-hash"]


def test_the_machine_boots_the_shared_initramfs_with_its_archive_appended(tmp_path):
    shared, machine = tmp_path / "cache", tmp_path / "machine"
    shared.mkdir()
    machine.mkdir()
    base = shared / "initramfs-aaaa.cpio"
    base.write_bytes(b"BASE" * 100)
    assert boot_initramfs(base, machine) == base, "nothing to append: the shared one"
    write_access(machine, Access(ssh_keys=(KEY,)))
    planned = boot_initramfs(base, machine, build=False)
    assert planned == machine / "initramfs-aaaa.cpio" and not planned.exists(), "a plan names it without making it"
    made = boot_initramfs(base, machine)
    assert made.read_bytes() == base.read_bytes() + (machine / "access.cpio").read_bytes()
    assert oct(made.stat().st_mode & 0o777) == "0o600"
    newer = shared / "initramfs-bbbb.cpio"
    newer.write_bytes(b"NEWER")
    assert boot_initramfs(newer, machine).read_bytes().startswith(b"NEWER")
    assert not made.exists(), "the copy of an older base goes"


def test_the_home_key_pair_is_made_once_and_private(tmp_path):
    home = Home(tmp_path / "home")
    public, made = home_key(home)
    assert made and public.read_text().startswith("ssh-ed25519 ")
    private = identity_of(public)
    assert private == public.with_suffix("")
    for path, mode in ((private, "0o600"), (public, "0o600"), (public.parent, "0o700")):
        assert oct(path.stat().st_mode & 0o777) == mode, path
    assert home_key(home) == (public, False)
    forget_key(home)
    assert not public.parent.exists()
    assert identity_of(tmp_path / "nokey.pub") is None


def test_create_puts_the_home_key_in_unless_given_one(lxc_home, creature_cli, tmp_path):
    creature_cli.ok("create", "k1", "--driver", "lxc", "--template", "bb")
    home_public = lxc_home.home.root / "ssh" / "id_ed25519.pub"
    assert lxc_home.machine("k1").data["ssh_key"] == str(home_public)
    assert (lxc_home.machine("k1").dir / "delta/root/.ssh/authorized_keys").read_text() == home_public.read_text()
    mine = tmp_path / "mine.pub"
    mine.write_text(KEY + "\n")
    creature_cli.ok("create", "k2", "--driver", "lxc", "--template", "bb", "--ssh-key", str(mine))
    assert lxc_home.machine("k2").data["ssh_key"] == str(mine)
    assert (lxc_home.machine("k2").dir / "delta/root/.ssh/authorized_keys").read_text() == KEY + "\n"


def test_the_ssh_command_line(lxc_home, creature_cli, tmp_path):
    from creature.builtin.ssh.client import ssh_argv

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "id")], check=True)
    creature_cli.ok("create", "s1", "--driver", "lxc", "--template", "bb", "--ssh-key", str(tmp_path / "id.pub"))
    machine = lxc_home.machine("s1")
    argv = ssh_argv(lxc_home, machine, "10.1.2.3", ["sh", "-c", "echo 'a b'; exit 3"])
    known = machine.dir / "known_hosts"
    assert oct(known.stat().st_mode & 0o777) == "0o600"
    for option in (f"-oUserKnownHostsFile={known}", "-oStrictHostKeyChecking=accept-new", "-oHostKeyAlias=s1",
                   "-oIdentitiesOnly=yes", "-oBatchMode=yes"):
        assert option in argv
    assert not any("StrictHostKeyChecking=no" in a or "/dev/null" in a for a in argv), "host keys are always checked"
    assert argv[argv.index("-i") + 1] == str(tmp_path / "id")
    assert argv[-5:] == ["-l", "root", "10.1.2.3", "--", shlex.join(["sh", "-c", "echo 'a b'; exit 3"])]
    (tmp_path / "id").unlink()  # only the public half: ssh's own identities and agent are tried
    assert "-i" not in ssh_argv(lxc_home, machine, "10.1.2.3", [])
