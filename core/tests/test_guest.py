"""Guest adjustment (creature.builtin.guest.adjust) on real trees: names, network configuration, udev, SSH keys, root password."""

import os
import stat
from pathlib import Path

import pytest
from creature.builtin.guest.adjust import Access, adjust, hash_password
from creature.errors import InputError
from creature.procs import run
from creature.records import Nic


@pytest.fixture
def debian_like(tmp_path) -> Path:
    """A template tree with what adjust looks at in a Debian guest (shadow owned by a shadow group, udev units)."""
    base = tmp_path / "base"
    for d in ("etc/init.d", "lib/systemd/system", "root", "etc/network"):
        (base / d).mkdir(parents=True)
    (base / "etc/debian_version").write_text("12.5\n")
    (base / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
    shadow = base / "etc/shadow"
    shadow.write_text("root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    os.chown(shadow, 0, 42)
    shadow.chmod(0o640)
    (base / "etc/init.d/udev").write_text("#!/bin/sh\nexec /lib/systemd/systemd-udevd --daemon\n")
    (base / "lib/systemd/system/systemd-udevd.service").write_text("[Service]\n")
    return base


def test_hostname_hosts_and_dhcp_by_default(debian_like, tmp_path):
    upper = tmp_path / "upper"
    upper.mkdir()
    adjust(upper, "web", [Nic()], base=debian_like)
    assert (upper / "etc/hostname").read_text() == "web\n"
    assert "127.0.1.1\tweb\n" in (upper / "etc/hosts").read_text()
    interfaces = (upper / "etc/network/interfaces").read_text()
    # containers need `auto`: nothing hotplugs their interfaces
    assert "auto eth0\niface eth0 inet dhcp\n    hostname web\n" in interfaces
    assert "source /etc/network/interfaces.d/*" in interfaces
    assert not (debian_like / "etc/hostname").exists(), "the template must stay untouched"


def test_no_nic_no_interface_configuration(tmp_path):
    adjust(tmp_path, "solo", [])
    interfaces = (tmp_path / "etc/network/interfaces").read_text()
    assert "auto lo\niface lo inet loopback\n" in interfaces
    # nothing for a DHCP client to act on: in a container sharing the host's network it would be the host's eth0
    assert "eth" not in interfaces and "dhcp" not in interfaces


def test_static_address_when_reserved(tmp_path):
    adjust(tmp_path, "db", [Nic(ip="10.77.0.20/24"), Nic()])
    interfaces = (tmp_path / "etc/network/interfaces").read_text()
    assert ("auto eth0\niface eth0 inet static\n    address 10.77.0.20\n    netmask 255.255.255.0\n"
            "    gateway 10.77.0.1\n") in interfaces
    assert "auto eth1\niface eth1 inet dhcp\n    hostname db\n" in interfaces
    # busybox ifup knows no `source`: only Debian guests get it
    assert "source" not in interfaces


def test_bad_static_address_is_input_error(tmp_path):
    with pytest.raises(InputError, match="invalid IP address"):
        adjust(tmp_path, "db", [Nic(ip="10.77.0.300")])


def test_udev_disabled_only_in_containers(debian_like, tmp_path):
    vm, ct = tmp_path / "vm", tmp_path / "ct"
    vm.mkdir()
    ct.mkdir()
    adjust(vm, "v", base=debian_like, container=False)
    assert not (vm / "etc/init.d/udev").exists()
    adjust(ct, "c", base=debian_like, container=True)
    assert os.readlink(ct / "etc/systemd/system/systemd-udevd.service") == "/dev/null"
    assert run(["sh", str(ct / "etc/init.d/udev"), "start"]).returncode == 0
    assert "udevd" not in (ct / "etc/init.d/udev").read_text()


def test_ssh_key_and_root_password(debian_like, tmp_path):
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyMaterial test@host\n")
    upper = tmp_path / "upper"
    upper.mkdir()
    access = Access.of(key, "s3cret pw")  # hashed by adjust itself
    adjust(upper, "web", base=debian_like, container=True, access=access)
    keys = upper / "root/.ssh/authorized_keys"
    assert keys.read_text() == "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyMaterial test@host\n"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert stat.S_IMODE((upper / "root/.ssh").stat().st_mode) == 0o700
    shadow = upper / "etc/shadow"
    root_line = shadow.read_text().splitlines()[0]
    hashed = root_line.split(":")[1]
    assert hashed.startswith("$6$") and "s3cret" not in shadow.read_text()
    # the hash verifies: openssl recomputes it from the same salt
    salt = hashed.split("$")[2]
    assert run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"], input="s3cret pw\n").stdout.strip() == hashed
    assert "daemon:*:19000" in shadow.read_text()
    st = shadow.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, 42)


def test_password_without_shadow_goes_to_passwd(tmp_path):
    base = tmp_path / "bb"
    (base / "etc").mkdir(parents=True)
    (base / "etc/passwd").write_text("root::0:0:root:/root:/bin/sh\n")
    upper = tmp_path / "upper"
    upper.mkdir()
    adjust(upper, "b", base=base, access=Access(root_password_hash=hash_password("pw")))
    fields = (upper / "etc/passwd").read_text().strip().split(":")
    assert fields[0] == "root" and fields[1].startswith("$6$") and fields[2:] == ["0", "0", "root", "/root", "/bin/sh"]


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("not a key\n", "is not an SSH public key"),
    ("", "is not an SSH public key"),
])
def test_bad_ssh_key_file(tmp_path, content, message):
    key = tmp_path / "key.pub"
    if content is not None:
        key.write_text(content)
    with pytest.raises(InputError, match=message):
        Access.of(key)


def test_empty_root_password_refused():
    with pytest.raises(InputError, match="non-empty"):
        Access.of(root_password="")


def test_never_writes_through_a_guest_symlink(tmp_path):
    outside = tmp_path / "host-file"
    outside.write_text("host\n")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hostname").symlink_to(outside)
    adjust(root, "g")
    assert outside.read_text() == "host\n"
    assert (root / "etc/hostname").read_text() == "g\n"


def test_a_refused_root_password_is_never_hashed(monkeypatch):
    """The driver check comes first: a refused create runs no openssl (Xen's dom0 has none) and says why it refused."""
    from types import SimpleNamespace

    from creature.builtin.guest import adjust as adjust_module
    from creature.builtin.guest.inputs import GuestInputs

    calls = []
    monkeypatch.setattr(adjust_module, "hash_password", lambda pw: calls.append(pw) or "$6$salt$hash")
    access = Access.of(root_password="pw")
    assert "pw" not in repr(access)
    refusing = SimpleNamespace(name="nokeys", capabilities=SimpleNamespace(guest_access=False, cloud_init=False))
    with pytest.raises(InputError, match="cannot put --ssh-key or --root-password"):
        GuestInputs.check(refusing, access, None)
    assert calls == []
    taking = SimpleNamespace(name="keys", capabilities=SimpleNamespace(guest_access=True, cloud_init=False))
    checked = GuestInputs.check(taking, access, None).access
    assert (checked.root_password_hash, checked.root_password, calls) == ("$6$salt$hash", None, ["pw"])
