"""--dry-run prints the exact files and commands, and changes nothing."""

from creature.testing import snapshot


def test_create_dry_run_changes_nothing(creature_cli, busybox):
    before = snapshot(creature_cli.home)
    out = creature_cli.ok("create", "web", "--driver", "lxc", "--template", busybox, "--memory", "96M", "--dry-run").out
    assert snapshot(creature_cli.home) == before
    assert out.startswith("# dry run: nothing was changed (driver lxc, usable here)")
    assert f"# file {creature_cli.home}/machines/web/config (0o600," in out
    assert "lxc.cgroup.memory.limit_in_bytes = 96M" in out or "lxc.cgroup2.memory.max = 100663296" in out
    assert f"lxc-start -P {creature_cli.home}/machines -n web -d" in out
    assert creature_cli.ok("list", "--format", "json").json() == []


def test_lifecycle_dry_runs_run_nothing(creature_cli, busybox):
    creature_cli.ok("create", "web", "--driver", "lxc", "--template", busybox)
    out = creature_cli.ok("start", "web", "--dry-run").out
    assert out.splitlines()[0] == "# dry run: start web"
    assert "lxc-start" in out.splitlines()[1]
    assert creature_cli.ok("show", "web", "--format", "json").json()["state"] == "stopped"
    creature_cli.ok("start", "web")
    assert "lxc-stop" in creature_cli.ok("kill", "web", "--dry-run").out
    assert "lxc-stop" in creature_cli.ok("stop", "web", "--dry-run").out
    assert creature_cli.ok("show", "web", "--format", "json").json()["state"] == "running"
    creature_cli.ok("destroy", "web", "--force", "--dry-run")
    assert creature_cli.ok("show", "web", "--format", "json").json()["state"] == "running"


def test_xen_dry_run_shows_the_xl_cfg_where_xen_cannot_run(creature_cli, creature_api):
    """Issue 8: the native configuration and commands of a driver that cannot run here, nothing changed."""
    import pytest

    if "xen" not in creature_api.registry:
        pytest.skip("creature-xen is not installed")
    creature_cli.ok("template", "build", "bb", "--method", "busybox")
    before = snapshot(creature_cli.home)
    out = creature_cli.ok("create", "x", "--driver", "xen", "--template", "bb", "--dry-run").out
    assert snapshot(creature_cli.home) == before
    assert f"# file {creature_cli.home}/machines/x/xl.cfg" in out
    assert 'name = "x"' in out and 'type = "pv"' in out
    assert f"xl create {creature_cli.home}/machines/x/xl.cfg" in out
    if not creature_api.probe("xen").usable:
        assert "(driver xen, not usable here: " in out.splitlines()[0]


def test_uml_dry_run_shows_the_initramfs_of_a_non_busybox_guest(creature_cli, creature_api, tmp_path):
    """Issue 6: a Debian-like guest under UML boots through creature's initramfs, and `start --dry-run` says so."""
    import subprocess

    from creature.testing import require_usable

    require_usable(creature_api, "uml")
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc/network/interfaces.d").mkdir(parents=True)
    (rootfs / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\n")
    (rootfs / "etc/hostname").write_text("debian\n")
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tmp_path / "deb.tar"), "."], check=True)
    creature_cli.ok("template", "build", "deb", "--method", "tarball", "--from", str(tmp_path / "deb.tar"))
    creature_cli.ok("create", "u", "--driver", "uml", "--template", "deb")
    before = snapshot(creature_cli.home)
    out = creature_cli.ok("start", "u", "--dry-run").out
    assert snapshot(creature_cli.home) == before
    line = next(line for line in out.splitlines() if "/linux.uml " in line)
    # the shared initramfs with the home's SSH key appended: the machine's own copy (creature.builtin.guest.access)
    assert f" initrd={creature_cli.home}/machines/u/initramfs-" in line and "creature.hostname=u " in line
