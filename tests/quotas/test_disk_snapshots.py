"""Snapshots and export of containers whose writable layer is a --disk image (features of #18 meeting #19's)."""

from __future__ import annotations

from creature.testing import snapshot


def test_lxc_disk_image_snapshots_stopped_and_refuses_what_it_cannot_do(lxc_usable, creature_cli, tmp_path):
    cli = creature_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    cli.ok("create", "d1", "--driver", "lxc", "--template", "bb", "--disk", "64M")
    cli.ok("start", "d1")
    cli.ok("exec", "d1", "--", "sh", "-c", "echo first > /root/f && sync")
    before = snapshot(cli.home)
    running = cli("snapshot", "create", "d1", "live")
    assert running.code == 2 and "snapshot it stopped" in running.err and snapshot(cli.home) == before
    cli.ok("stop", "d1")
    cli.ok("snapshot", "create", "d1", "s1")
    cli.ok("start", "d1")
    cli.ok("exec", "d1", "--", "sh", "-c", "echo second > /root/f && sync")
    cli.ok("stop", "d1")
    cli.ok("snapshot", "restore", "d1", "s1")
    cli.ok("start", "d1")
    assert cli.ok("exec", "d1", "--", "cat", "/root/f").out == "first\n"
    cli.ok("kill", "d1")
    archive = tmp_path / "d1.tar"
    refused = cli("export", "d1", "-o", str(archive))
    assert refused.code == 2 and "--disk image" in refused.err and not archive.exists()
