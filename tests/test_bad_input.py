"""Bad input: one line `creature: error: ...`, exit 2, no traceback, and nothing changed."""

import pytest
from creature.testing import snapshot

LONG = "a" * 200


@pytest.fixture
def populated(creature_cli, busybox, tmp_path):
    """A home with a template `bb`, a stopped machine `web`, and a destroyed machine `gone`."""
    creature_cli.ok("create", "web", "--driver", "lxc", "--template", busybox)
    creature_cli.ok("create", "gone", "--driver", "lxc", "--template", busybox)
    creature_cli.ok("destroy", "gone")
    (tmp_path / "malformed.toml").write_text('name = "x"\ntemplate = [unclosed\n')
    (tmp_path / "unknown.toml").write_text('name = "x"\ndriver = "lxc"\ntemplate = "bb"\ncolour = "blue"\n')
    (tmp_path / "badmem.toml").write_text('name = "x"\ndriver = "lxc"\ntemplate = "bb"\nmemory = "lots"\n')
    (tmp_path / "noname.toml").write_text('driver = "lxc"\ntemplate = "bb"\n')
    (tmp_path / "ci-broken.yaml").write_text("#cloud-config\nruncmd: [unclosed\n")
    (tmp_path / "ci-plain.txt").write_text("packages: [htop]\n")
    (tmp_path / "ci-list.yaml").write_text("#cloud-config\n- one\n- two\n")
    (tmp_path / "ci-mime.txt").write_text("Content-Type: text/plain\n\nhello\n")
    (tmp_path / "ci-ok.yaml").write_text("#cloud-config\n")
    (tmp_path / "net.yaml").write_text("ethernets: {eth0: {dhcp4: true}}\n")
    (tmp_path / "k.pub").write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBadInputKey me@host\n")
    _bad_tarballs(tmp_path)
    return tmp_path


def _bad_tarballs(folder) -> None:
    """Archives the tarball method must refuse before it writes anything."""
    import io
    import tarfile

    def entry(name, kind=tarfile.REGTYPE, link=""):
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, link
        info.size = 1 if kind == tarfile.REGTYPE else 0
        return info

    archives = {
        "dotdot": [entry("etc", tarfile.DIRTYPE), entry("../outside")],
        "absolute": [entry("etc", tarfile.DIRTYPE), entry("/etc/passwd")],
        "device": [entry("etc", tarfile.DIRTYPE), entry("etc/sda", tarfile.BLKTYPE)],
        "symlink": [entry("etc", tarfile.DIRTYPE), entry("up", tarfile.SYMTYPE, "/"), entry("up/root/x")],
        "hardlink": [entry("etc", tarfile.DIRTYPE), entry("etc/shadow", tarfile.LNKTYPE, "../../etc/shadow")],
        "no-etc": [entry("usr", tarfile.DIRTYPE)],
    }
    for name, members in archives.items():
        with tarfile.open(folder / f"{name}.tar", "w:gz") as tar:
            for member in members:
                tar.addfile(member, io.BytesIO(b"x") if member.isreg() else None)
    (folder / "not-a.tar").write_text("this is not an archive\n")


CREATE = ["create", "--driver", "lxc", "--template", "bb"]
CASES = {
    "name with a slash": (CREATE + ["../x"], "invalid"),
    "name with a space": (CREATE + ["a b"], "invalid"),
    "name of 200 characters": (CREATE + [LONG], "invalid"),
    "non-ASCII name": (CREATE + ["héllo"], "invalid"),
    "empty name": (CREATE + [""], "invalid"),
    "upper-case name": (CREATE + ["Web"], "invalid"),
    "name with a dot": (CREATE + ["a.b"], "invalid"),
    "name ending in a dash": (CREATE + ["web-"], "invalid"),
    "unknown driver": (["create", "x", "--driver", "nosuch", "--template", "bb"], "unknown driver 'nosuch'"),
    "unknown template": (["create", "x", "--driver", "lxc", "--template", "nosuch"], "no template named 'nosuch'"),
    "no template": (["create", "x", "--driver", "lxc"], "needs a template"),
    "memory lots": (CREATE + ["x", "--memory", "lots"], "invalid memory size 'lots'"),
    "memory -1": (CREATE + ["x", "--memory", "-1"], "invalid memory size '-1'"),
    "memory 0": (CREATE + ["x", "--memory", "0"], "out of range"),
    "memory 10T": (CREATE + ["x", "--memory", "10T"], "out of range"),
    "cpus 0": (CREATE + ["x", "--cpus", "0"], "cpus"),
    "cpus -2": (CREATE + ["x", "--cpus", "-2"], "cpus"),
    "cpus abc": (CREATE + ["x", "--cpus", "abc"], "abc"),
    "duplicate name": (CREATE + ["web"], "machine 'web' already exists"),
    "malformed spec file": (["create", "-f", "{tmp}/malformed.toml"], "not valid TOML"),
    "unknown key in spec file": (["create", "-f", "{tmp}/unknown.toml"], "colour"),
    "bad memory in spec file": (["create", "-f", "{tmp}/badmem.toml"], "invalid memory size"),
    "spec file without a name": (["create", "-f", "{tmp}/noname.toml"], "needs a name"),
    "missing spec file": (["create", "-f", "{tmp}/nosuch.toml"], "does not exist"),
    "start unknown machine": (["start", "nosuch"], "no machine named 'nosuch'"),
    "start destroyed machine": (["start", "gone"], "no machine named 'gone'"),
    "start names and --all": (["start", "web", "--all"], "not both"),
    "start nothing": (["start"], "--all"),
    "stop unknown machine": (["stop", "nosuch"], "no machine named"),
    "stop negative timeout": (["stop", "web", "--timeout", "-5"], "timeout"),
    "kill unknown machine": (["kill", "nosuch"], "no machine named"),
    "restart unknown machine": (["restart", "nosuch"], "no machine named"),
    "show unknown machine": (["show", "nosuch"], "no machine named"),
    "show a path": (["show", "../../etc"], "invalid machine name"),
    "destroy unknown machine": (["destroy", "nosuch"], "no machine named"),
    "destroy destroyed machine": (["destroy", "gone"], "no machine named"),
    "exec unknown machine": (["exec", "nosuch", "--", "true"], "no machine named"),
    "exec without a command": (["exec", "web"], "needs a command"),
    "console unknown machine": (["console", "nosuch"], "no machine named"),
    "list unknown format": (["list", "--format", "xml"], "xml"),
    "list unknown driver": (["list", "--driver", "nosuch"], "unknown driver"),
    "list unknown state": (["list", "--state", "sleeping"], "unknown state"),
    "template name in use": (["template", "build", "bb", "--method", "busybox"], "already exists"),
    "unknown template method": (["template", "build", "t2", "--method", "nosuch"], "unknown template method"),
    "bad template name": (["template", "build", "../t", "--method", "busybox"], "invalid template name"),
    "template option without =": (["template", "build", "t3", "--method", "busybox", "--option", "x"], "KEY=VALUE"),
    "option busybox does not take": (["template", "build", "t3", "--method", "busybox", "--option", "a=b"], "takes no options"),
    "remove unknown template": (["template", "rm", "nosuch"], "no template named"),
    "remove template in use": (["template", "rm", "bb"], "used by web"),
    "unknown command": (["frobnicate"], "frobnicate"),
    "cloud-init that is not YAML": (CREATE + ["x", "--cloud-init", "{tmp}/ci-broken.yaml"], "is not valid YAML"),
    "cloud-init without a header": (CREATE + ["x", "--cloud-init", "{tmp}/ci-plain.txt"], "is not cloud-init user-data"),
    "cloud-config that is a list": (CREATE + ["x", "--cloud-init", "{tmp}/ci-list.yaml"], "must be a YAML mapping"),
    "cloud-init MIME not multipart": (CREATE + ["x", "--cloud-init", "{tmp}/ci-mime.txt"], "is MIME but not multipart"),
    "missing cloud-init file": (CREATE + ["x", "--cloud-init", "{tmp}/nosuch.yaml"], "does not exist"),
    "network-config without version": (CREATE + ["x", "--cloud-init", "{tmp}/ci-ok.yaml", "--cloud-init-network-config",
                                                 "{tmp}/net.yaml"], "needs `version: 1` or `version: 2`"),
    "cloud-init for a driver that drops it": (["create", "x", "--driver", "xen", "--template", "bb", "--cloud-init",
                                               "{tmp}/ci-ok.yaml"], "cannot hand cloud-init data"),
    "ssh key for a driver that drops it": (["create", "x", "--driver", "vbox", "--template", "bb", "--ssh-key", "{tmp}/k.pub"],
                                           "cannot put --ssh-key or --root-password"),
    "root password for a driver that drops it": (["create", "x", "--driver", "xen", "--template", "bb", "--root-password", "pw"],
                                                 "cannot put --ssh-key or --root-password"),
    "tarball that is not one": (["template", "build", "t4", "--method", "tarball", "--from", "{tmp}/not-a.tar"],
                                "is not a readable tar archive"),
    "tarball climbing out with ..": (["template", "build", "t4", "--method", "tarball", "--from", "{tmp}/dotdot.tar"],
                                     "climbs out with '..'"),
    "tarball with an absolute path": (["template", "build", "t4", "--method", "tarball", "--from", "{tmp}/absolute.tar"],
                                      "absolute path"),
    "tarball with a device outside /dev": (["template", "build", "t4", "--method", "tarball", "--from", "{tmp}/device.tar"],
                                           "device node outside /dev"),
    "tarball writing through its symlink": (["template", "build", "t4", "--method", "tarball", "--from", "{tmp}/symlink.tar"],
                                            "below the symbolic link 'up'"),
    "tarball hard link out of the tree": (["template", "build", "t4", "--method", "tarball", "--from", "{tmp}/hardlink.tar"],
                                          "outside the archive"),
    "tarball without /etc": (["template", "build", "t4", "--method", "tarball", "--from", "{tmp}/no-etc.tar"],
                             "not a root filesystem"),
    "ssh unknown machine": (["ssh", "nosuch"], "no machine named 'nosuch'"),
    "ssh machine without a NIC": (["ssh", "web", "--timeout", "1"], "has no network interface"),
    # what only some drivers take (clusters: creature-ganeti), refused by the others
    "node on a driver without placement": (CREATE + ["x", "--node", "n1"], "does not support placement on a node (--node)"),
    "create option the driver does not take": (CREATE + ["x", "--option", "disk_size=2G"], "driver 'lxc' takes no --option (got disk_size)"),
    "create option without =": (CREATE + ["x", "--option", "disk_size"], "KEY=VALUE"),
    "migrate on a driver without it": (["migrate", "web"], "does not support live migration"),
    "failover on a driver without it": (["failover", "web", "--node", "n1"], "does not support failover"),
    "migrate unknown machine": (["migrate", "nosuch"], "no machine named 'nosuch'"),
    "host add with a local-only driver": (["host", "add", "h1", "lxc+ssh://h/", "--driver", "lxc"], "manages this host only"),
    "host add option the driver does not take": (["host", "add", "h1", "qemu+ssh://u@h/system", "--option", "a=b"],
                                                 "driver 'libvirt-qemu' takes no --option a for a host"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(creature_cli, populated, case):
    args, expected = CASES[case]
    args = [a.replace("{tmp}", str(populated)) for a in args]
    before = snapshot(creature_cli.home)
    result = creature_cli(*args)
    assert result.code == 2, f"exit {result.code}: {result.err}"
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("creature: error: ")
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.err and result.out == ""
    assert snapshot(creature_cli.home) == before, "bad input changed the home"


def test_there_are_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_destroy_takes_several_names_and_a_bad_one_destroys_none(creature_cli):
    creature_cli.ok("template", "build", "bb", "--method", "busybox")
    for n in ("d1", "d2", "d3"):
        creature_cli.ok("create", n, "--driver", "lxc", "--template", "bb")
    before = snapshot(creature_cli.home)
    bad = creature_cli("destroy", "d1", "nosuch", "d2")
    assert bad.code == 2 and bad.err == "creature: error: no machine named 'nosuch'\n"
    assert snapshot(creature_cli.home) == before
    creature_cli.ok("destroy", "d1", "d2")
    assert [r["name"] for r in creature_cli.ok("list", "--format", "json").json()] == ["d3"]
