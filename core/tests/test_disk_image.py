"""A template's disk image for VM drivers: made with mkfs.ext4 -d (no loop mounts), once, then reused; read back with e2fsprogs."""

import os
import stat
import time

import pytest
from creature.builtin.support.images import disk_image
from creature.procs import run, which


@pytest.fixture
def busybox_template(creature_api):
    if which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 is not installed (Debian package e2fsprogs)")
    return creature_api.templates.build("bb", "busybox")


def test_built_once_then_reused(creature_api, busybox_template):
    started = time.monotonic()
    image = disk_image(creature_api.home, busybox_template)
    first = time.monotonic() - started
    st = image.stat()
    assert image.parent == busybox_template.path and stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_blocks * 512 < st.st_size, "the image is sparse"
    started = time.monotonic()
    again = disk_image(creature_api.home, busybox_template)
    second = time.monotonic() - started
    assert again == image
    after = again.stat()
    assert (after.st_ino, after.st_mtime_ns) == (st.st_ino, st.st_mtime_ns), "the second call must not rebuild"
    assert second < first / 5
    assert not [p for p in busybox_template.path.iterdir() if p.name.startswith(".disk")]


def test_fsck_clean_and_content_readable(creature_api, busybox_template):
    image = disk_image(creature_api.home, busybox_template)
    fsck = run([which("e2fsck"), "-fn", str(image)], check=False)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert run([which("debugfs"), "-R", "cat /etc/hostname", str(image)]).stdout == "busybox\n"
    # owners are root's and the busybox binary keeps its mode, as the guest needs
    listing = run([which("debugfs"), "-R", "stat /bin/busybox", str(image)]).stdout
    assert "User:     0   Group:     0" in listing and "Mode:  0755" in listing
    label = run([which("e2label") or "e2label", str(image)]).stdout.strip()
    assert label == "root"


def test_failed_build_leaves_no_partial_image(creature_api, busybox_template, monkeypatch):
    from creature.errors import CreatureError

    monkeypatch.setattr("creature.procs.which", lambda program: "/bin/false" if program == "mkfs.ext4" else None)
    with pytest.raises(CreatureError, match="false failed"):
        disk_image(creature_api.home, busybox_template)
    assert not [name for name in os.listdir(busybox_template.path) if "disk" in name]
