"""The vmlinux inside a bzImage: the compressors, a real Debian kernel, what is refused."""

from __future__ import annotations

import gzip
import lzma
import os
from pathlib import Path

import pytest
from creature.builtin.guest import kernel_image
from creature.errors import CreatureError


def test_decompress_knows_the_kernel_compressors():
    data = b"\x7fELF" + os.urandom(2000) * 3
    assert kernel_image.decompress(lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32) + b"\0" * 16) == data
    assert kernel_image.decompress(gzip.compress(data) + b"trailing") == data
    assert kernel_image.decompress(lzma.compress(data, format=lzma.FORMAT_ALONE)) == data
    with pytest.raises(CreatureError, match="unknown kernel compression"):
        kernel_image.decompress(b"\x00\x01\x02\x03not a kernel")


def test_not_a_bzimage_is_refused(tmp_path):
    bogus = tmp_path / "vmlinuz"
    bogus.write_bytes(b"\0" * 4096)
    with pytest.raises(CreatureError, match="not a bzImage"):
        kernel_image.extract_vmlinux(bogus)


def test_debians_bzimage_gives_an_elf_vmlinux():
    kernels = sorted(Path("/boot").glob("vmlinuz-*"))
    if not kernels:
        pytest.skip("no /boot/vmlinuz-* on this host (Debian package linux-image-amd64)")
    image = kernels[-1].read_bytes()
    assert kernel_image.is_bzimage(image)
    elf = kernel_image.extract_vmlinux(kernels[-1])
    assert elf[:4] == b"\x7fELF" and len(elf) > len(image)
    assert not kernel_image.is_bzimage(elf)
