"""cloud-init NoCloud data: checked at create, made into a seed ISO (VM drivers, read back by real ISO readers) or a seed
folder in a container's rootfs, refused (exit 2, nothing made) where a driver's guests cannot get it."""

import pytest
from creature.procs import run, which
from creature.testing import require_usable, snapshot

USER_DATA = "#cloud-config\npackages: [htop]\nruncmd:\n  - [touch, /root/seeded]\n"


@pytest.fixture
def qemu_home(lxc_home, creature_api):
    """The home of lxc_home (template bb), where the qemu driver is usable too (its create needs only qemu-img)."""
    require_usable(creature_api, "qemu")
    return lxc_home


def test_vm_seed_is_an_iso_labelled_cidata_with_the_files(qemu_home, creature_cli, tmp_path):
    if which("isoinfo") is None or which("xorriso") is None:
        pytest.skip("isoinfo (genisoimage) and xorriso are needed to read the seed back")
    (tmp_path / "user-data.yaml").write_text(USER_DATA)
    (tmp_path / "meta.yaml").write_text("local-hostname: other-name\npublic-keys: [ssh-ed25519 AAAA x]\n")
    (tmp_path / "net.yaml").write_text("version: 2\nethernets:\n  eth0:\n    dhcp4: true\n")
    creature_cli.ok("create", "ci", "--driver", "qemu", "--template", "bb", "--cloud-init", str(tmp_path / "user-data.yaml"),
                    "--cloud-init-meta-data", str(tmp_path / "meta.yaml"), "--cloud-init-network-config", str(tmp_path / "net.yaml"))
    machine = qemu_home.machine("ci")
    seed = machine.dir / "cloud-init-seed.iso"
    assert machine.data["cloud_init_seed"] == str(seed)
    assert oct(seed.stat().st_mode & 0o777) == "0o600"
    assert "Volume id: cidata" in run(["isoinfo", "-d", "-i", str(seed)]).stdout
    out = tmp_path / "extracted"
    run(["xorriso", "-osirrox", "on", "-indev", str(seed), "-extract", "/", str(out)])
    assert sorted(p.name for p in out.iterdir()) == ["meta-data", "network-config", "user-data"]
    assert (out / "user-data").read_text() == USER_DATA
    assert (out / "network-config").read_text() == (tmp_path / "net.yaml").read_text()
    import yaml

    meta = yaml.safe_load((out / "meta-data").read_text())
    assert meta["local-hostname"] == "other-name" and meta["public-keys"] == ["ssh-ed25519 AAAA x"]
    assert meta["instance-id"].startswith("ci-")
    # and QEMU attaches it
    assert f"file={seed},format=raw,media=cdrom,readonly=on" in creature_cli.ok("start", "ci", "--dry-run").out


def test_each_machine_gets_its_own_instance_id(qemu_home, creature_cli, tmp_path):
    user_data = tmp_path / "u"
    user_data.write_text(USER_DATA)
    ids = []
    for name in ("a1", "a2"):
        creature_cli.ok("create", name, "--driver", "qemu", "--template", "bb", "--cloud-init", str(user_data))
        seed = qemu_home.machine(name).data["cloud_init_seed"]
        ids.append(run(["isoinfo", "-R", "-i", seed, "-x", "/meta-data"]).stdout.splitlines()[0])
    assert ids[0] != ids[1]


def test_container_seed_folder_in_the_rootfs(lxc_home, creature_cli, tmp_path):
    (tmp_path / "u").write_text("#!/bin/sh\necho seeded > /root/seeded\n")
    creature_cli.ok("create", "ci", "--driver", "lxc", "--template", "bb", "--cloud-init", str(tmp_path / "u"))
    seed = lxc_home.machine("ci").dir / "delta/var/lib/cloud/seed/nocloud"
    assert (seed / "user-data").read_text() == "#!/bin/sh\necho seeded > /root/seeded\n"
    assert "local-hostname: ci" in (seed / "meta-data").read_text()
    assert oct((seed / "user-data").stat().st_mode & 0o777) == "0o600"
    assert "cloud_init_seed" not in lxc_home.machine("ci").data


GOOD = {
    "cloud-config": "#cloud-config\nruncmd: [[touch, /x]]\n",
    "empty cloud-config": "#cloud-config\n",
    "script": "#!/bin/sh\ntrue\n",
    "mime": ("Content-Type: multipart/mixed; boundary=\"b\"\nMIME-Version: 1.0\n\n--b\nContent-Type: text/cloud-config\n\n"
             "runcmd: [[touch, /x]]\n--b\nContent-Type: text/x-shellscript\n\n#!/bin/sh\ntrue\n--b--\n"),
}


@pytest.mark.parametrize("case", sorted(GOOD))
def test_user_data_that_cloud_init_acts_on_passes(case, tmp_path):
    from creature.builtin.guest.nocloud import NoCloud

    (tmp_path / "u").write_text(GOOD[case])
    assert NoCloud.read(tmp_path / "u").user_data == GOOD[case]


BAD = {
    "missing": (None, "does not exist"),
    "blank": ("  \n", "is empty"),
    "no header": ("packages: [htop]\n", "is not cloud-init user-data: it starts 'packages: [htop]'"),
    "broken YAML": ("#cloud-config\nruncmd: [unclosed\n", "is not valid YAML"),
    "YAML list": ("#cloud-config\n- a\n- b\n", "must be a YAML mapping, not list"),
    "MIME not multipart": ("Content-Type: text/plain\n\nhello\n", "is MIME but not multipart (text/plain)"),
    "MIME part of an unknown type": ("Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: image/png\n\nx\n--b--\n",
                                     "MIME part 1 is image/png"),
    "MIME cloud-config part that does not parse": (
        "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/cloud-config\n\na: [b\n--b--\n", "is not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_user_data_changes_nothing(lxc_home, creature_cli, creature_home, tmp_path, case):
    content, message = BAD[case]
    path = tmp_path / "user-data"
    if content is not None:
        path.write_text(content)
    before = snapshot(creature_home)
    r = creature_cli("create", "ci", "--driver", "lxc", "--template", "bb", "--cloud-init", str(path))
    assert r.code == 2 and message in r.err and r.err.strip().count("\n") == 0, r.err
    assert snapshot(creature_home) == before


@pytest.mark.parametrize("option, content, message", [
    ("--cloud-init-meta-data", "- a list\n", "must be a YAML mapping"),
    ("--cloud-init-network-config", "ethernets: {}\n", "needs `version: 1` or `version: 2`"),
    ("--cloud-init-network-config", "network: {version: 3}\n", "needs `version: 1` or `version: 2`"),
])
def test_bad_meta_data_and_network_config_change_nothing(lxc_home, creature_cli, creature_home, tmp_path, option, content, message):
    (tmp_path / "f").write_text(content)
    before = snapshot(creature_home)
    r = creature_cli("create", "ci", "--driver", "lxc", "--template", "bb", option, str(tmp_path / "f"))
    assert r.code == 2 and message in r.err and r.err.strip().count("\n") == 0, r.err
    assert snapshot(creature_home) == before


def test_drivers_whose_guests_cannot_get_it_refuse(lxc_home, creature_api, creature_cli, creature_home, tmp_path):
    require_usable(creature_api, "uml")
    (tmp_path / "u").write_text(USER_DATA)
    before = snapshot(creature_home)
    for extra in ([], ["--dry-run"]):
        r = creature_cli("create", "ci", "--driver", "uml", "--template", "bb", "--cloud-init", str(tmp_path / "u"), *extra)
        assert r.code == 2 and r.err == "creature: error: driver 'uml' cannot hand cloud-init data to its guests (--cloud-init...)\n"
    assert snapshot(creature_home) == before
