"""Export a Debian machine that ran and stopped, import it into a second home, boot it: its files and hostname are there."""

import os
import stat

import pytest
from creature.testing import CLI, cleanup_home, make_home, wait_until

pytestmark = pytest.mark.slow


def test_debian_machine_moves_to_another_home(lxc, machines, tmp_path):
    cli = lxc.cli
    machines.append("mover")
    cli.ok("create", "mover", "--driver", "lxc", "--template", "deb12")
    cli.ok("start", "mover")
    wait_until(lambda: cli("exec", "mover", "--", "true").code == 0, 30, 0.2, "exec in the Debian guest")
    cli.ok("exec", "mover", "--", "sh", "-c", "echo moved-with-me > /root/proof && mkdir -p /srv/data && "
           "dd if=/dev/urandom of=/srv/data/blob bs=1M count=8 2>/dev/null && sha256sum /srv/data/blob > /root/blob.sum && "
           "rm /etc/issue.net")
    cli.ok("stop", "mover", "--timeout", "30")
    archive = tmp_path / "mover.tar.zst"
    cli.ok("export", "mover", "-o", str(archive))
    setuid = sorted(str(p.relative_to(lxc.api.templates.get("deb12").rootfs))
                    for p in lxc.api.templates.get("deb12").rootfs.rglob("*")
                    if p.is_file() and not p.is_symlink() and p.stat().st_mode & stat.S_ISUID)
    second = CLI(make_home())
    try:
        second.ok("import", str(archive))
        second.ok("start", "mover")
        wait_until(lambda: second("exec", "mover", "--", "true").code == 0, 30, 0.2, "exec in the imported guest")
        assert second.ok("exec", "mover", "--", "hostname").out.strip() == "mover"
        assert second.ok("exec", "mover", "--", "cat", "/root/proof").out == "moved-with-me\n"
        second.ok("exec", "mover", "--", "sha256sum", "-c", "/root/blob.sum")
        # a file the machine deleted stays deleted (the overlay's whiteout was applied, not exported)
        assert second("exec", "mover", "--", "test", "-e", "/etc/issue.net").code != 0
        # the guest's own init reached its runlevel; setuid bits and owners survived the trip
        assert wait_until(lambda: second("exec", "mover", "--", "runlevel").out.strip().endswith("2"), 30, 0.5, "runlevel 2")
        rootfs = second.home / "templates" / "mover-import" / "rootfs"
        assert setuid and all(os.stat(rootfs / p).st_mode & stat.S_ISUID for p in setuid), setuid
        assert os.stat(rootfs / "var" / "mail").st_gid == os.stat(lxc.api.templates.get("deb12").rootfs / "var" / "mail").st_gid
        second.ok("stop", "mover", "--timeout", "30")
    finally:
        cleanup_home(second.home)
