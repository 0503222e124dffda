"""The guest kernel and initramfs: vmlinux extracted from Debian's real bzImage, the initramfs's contents, the cache."""

from __future__ import annotations

import os
import struct

import pytest
from creature.sdk import CreatureError
from creature_qemu import initramfs, kernel

PVH_NOTE = 18  # XEN_ELFNOTE_PHYS32_ENTRY: what lets QEMU boot the vmlinux directly


@pytest.fixture(scope="module")
def host_kernel():
    try:
        return kernel.installed_kernel()
    except CreatureError as exc:
        pytest.skip(f"no Debian kernel installed: {exc}")


def _notes(elf: bytes) -> set[int]:
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    types = set()
    for i in range(phnum):
        p_type, _flags, offset, _va, _pa, filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        pos = offset
        while pos < offset + filesz:
            namesz, descsz, note_type = struct.unpack_from("<III", elf, pos)
            types.add(note_type)
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return types


def test_vmlinux_from_debians_bzimage_has_the_pvh_entry(host_kernel):
    path = kernel.cached_vmlinux(host_kernel)
    elf = path.read_bytes()
    assert elf[:4] == b"\x7fELF" and elf[4] == 2  # 64-bit ELF
    assert PVH_NOTE in _notes(elf)
    assert path.parent == kernel.cache_dir(host_kernel) and host_kernel.version in str(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    # the cache is keyed by version: asking again reuses the file
    mtime = path.stat().st_mtime_ns
    assert kernel.cached_vmlinux(host_kernel).stat().st_mtime_ns == mtime


def test_no_kernel_says_which_package(tmp_path):
    with pytest.raises(CreatureError, match="linux-image-amd64"):
        kernel.installed_kernel(boot=tmp_path, modules=tmp_path)


def _cpio(data: bytes) -> dict[str, tuple[int, bytes, int, int]]:
    entries, pos = {}, 0
    while True:
        assert data[pos:pos + 6] == b"070701"
        fields = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = fields[1], fields[6], fields[9], fields[10], fields[11]
        name_at = pos + 110
        name = data[name_at:name_at + namesize - 1].decode()
        body = name_at + namesize + (-(110 + namesize) % 4)
        if name == "TRAILER!!!":
            return entries
        entries[name] = (mode, data[body:body + size], rmaj, rmin)
        pos = body + size + (-size % 4)


def test_initramfs_carries_busybox_modules_in_dependency_order(host_kernel):
    path = initramfs.cached_initramfs(host_kernel)
    files = _cpio(path.read_bytes())
    mode, _, major, minor = files["dev/console"]
    assert (mode >> 12, major, minor) == (0o02, 5, 1)  # a character device: the kernel opens it before /init
    assert files["init"][1].decode() == initramfs.INIT
    assert files["bin/busybox"][1] == initramfs.host_busybox().read_bytes()
    order = files["lib/modules/base.order"][1].decode().split()
    for needed in ("virtio_pci.ko", "virtio_blk.ko", "virtio_net.ko", "ext4.ko", "crc32c_generic.ko", "button.ko", "evdev.ko", "pvpanic-mmio.ko"):
        assert needed in order and f"lib/modules/{needed}" in files
    assert order.index("virtio.ko") < order.index("virtio_blk.ko")
    assert order.index("jbd2.ko") < order.index("ext4.ko") and order.index("mbcache.ko") < order.index("ext4.ko")
    modules = host_kernel.modules / "kernel/fs/ext4/ext4.ko"
    assert files["lib/modules/ext4.ko"][1] == modules.read_bytes()
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_unknown_module_is_a_clear_error(host_kernel):
    with pytest.raises(CreatureError, match="no module not_a_module"):
        initramfs.load_order(host_kernel, ("not_a_module",))


def test_cache_lives_in_the_shared_cache(host_kernel, monkeypatch, tmp_path):
    monkeypatch.setenv("CREATURE_CACHE", str(tmp_path / "cache"))
    assert kernel.cache_dir(host_kernel) == tmp_path / "cache" / "qemu" / host_kernel.version
    assert (tmp_path / "cache" / "qemu").stat().st_mode & 0o777 == 0o700
