"""Long work shows progress on a terminal and is silent in pipes (a real pseudo-terminal, a real tarball import)."""

import os
import pty
import subprocess
import sys

import pytest


@pytest.fixture
def rootfs_tar(creature_api, tmp_path):
    t = creature_api.templates.build("bb", "busybox")
    archive = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(t.rootfs), "-cf", str(archive), "."], check=True)
    return archive


def _build(home, name, archive, stderr):
    return subprocess.run([sys.executable, "-m", "creature", "--home", str(home), "template", "build", name,
                           "--method", "tarball", "--from", str(archive)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, timeout=120)


def test_progress_on_a_terminal(creature_home, rootfs_tar):
    master, slave = pty.openpty()
    try:
        proc = _build(creature_home, "on-tty", rootfs_tar, slave)
        os.close(slave)
        slave = None
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert proc.returncode == 0
    assert b"unpacking rootfs.tar: done in" in shown


def test_silent_in_a_pipe(creature_home, rootfs_tar):
    proc = _build(creature_home, "in-pipe", rootfs_tar, subprocess.PIPE)
    assert proc.returncode == 0
    assert proc.stderr == b""
    assert proc.stdout.decode().startswith("template in-pipe built (tarball")
