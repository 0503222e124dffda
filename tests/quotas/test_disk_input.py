"""--disk and `resize` refuse bad input with one line and exit 2, changing nothing; spec files take `disk`."""

from __future__ import annotations

from creature.testing import require_usable, snapshot


def _refused(cli, *args: str, says: str) -> None:
    before = snapshot(cli.home)
    result = cli(*args)
    lines = result.err.splitlines()
    assert result.code == 2 and len(lines) == 1 and lines[0].startswith("creature: error: "), result.err
    assert says in lines[0], lines[0]
    assert snapshot(cli.home) == before


def test_bad_disk_sizes_are_refused(lxc_usable, creature_cli):
    cli = creature_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    base = ("create", "d1", "--driver", "lxc", "--template", "bb")
    _refused(cli, *base, "--disk", "lots", says="invalid disk size 'lots'")
    _refused(cli, *base, "--disk", "8M", says="out of range (16M to")
    _refused(cli, *base, "--disk", "0", says="out of range")
    _refused(cli, *base, "--disk", "512k", says="out of range")


def test_disk_in_a_spec_file_and_on_the_command_line(lxc_usable, creature_cli, tmp_path):
    cli = creature_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    spec = tmp_path / "m.toml"
    spec.write_text('name = "d1"\ndriver = "lxc"\ntemplate = "bb"\ndisk = "100M"\n')
    cli.ok("create", "-f", str(spec))
    cli.ok("create", "-f", str(spec), "d2", "--disk", "1G")  # the option overrides the file
    shown = {n: cli.ok("show", n, "--format", "json").json()["disk"] for n in ("d1", "d2")}
    assert shown == {"d1": 100, "d2": 1024}
    machine = lxc_usable.machine("d2")
    assert (machine.dir / "disk.ext4").stat().st_size == 1024 * 1024 * 1024
    assert (machine.dir / "disk.ext4").stat().st_mode & 0o777 == 0o600


def test_resize_refuses_bad_requests_and_changes_nothing(lxc_usable, creature_cli):
    cli = creature_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    cli.ok("create", "limited", "--driver", "lxc", "--template", "bb", "--disk", "64M")
    cli.ok("create", "free", "--driver", "lxc", "--template", "bb")
    _refused(cli, "resize", "nosuch", "--disk", "1G", says="no machine named 'nosuch'")
    _refused(cli, "resize", "limited", "--disk", "huge", says="invalid disk size 'huge'")
    _refused(cli, "resize", "limited", "--disk", "32M", says="the disk is 64 MiB and cannot shrink to 32 MiB")
    _refused(cli, "resize", "free", "--disk", "1G", says="created without --disk")
    # the same size again is no change at all
    cli.ok("resize", "limited", "--disk", "64M")
    assert lxc_usable.machine("limited").spec.disk == 64


def test_a_disk_too_small_for_the_template_is_refused(creature_api, creature_cli):
    """A VM's disk is the template's files in an image of that size: too small to hold them is bad input."""
    require_usable(creature_api, "qemu")
    cli = creature_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    rootfs = creature_api.templates.get("bb").rootfs
    (rootfs / "ballast").write_bytes(b"\1" * (40 * 1024 * 1024))
    _refused(cli, "create", "v1", "--driver", "qemu", "--template", "bb", "--disk", "24M",
             says="a disk of 24 MiB cannot hold the")
