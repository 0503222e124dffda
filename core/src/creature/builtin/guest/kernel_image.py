"""The ELF vmlinux inside a Linux bzImage: what QEMU's PVH boot and Xen's PV domain builder load fastest.

Three drivers boot Debian's /boot kernel: QEMU and libvirt direct-boot its vmlinux (its PVH entry skips the
bzImage's own decompressor, 2-3x faster under TCG), and Xen's `xl create` spends most of its time in dom0
decompressing a bzImage (14 s instead of 2 s under TCG), so each of them caches the vmlinux this extracts.
"""

from __future__ import annotations

import struct
from pathlib import Path

from creature.errors import CreatureError
from creature.home import write_atomic
from creature.procs import run, which

# Magic numbers of the compressors a bzImage payload may use (arch/x86/boot/compressed).
_MAGICS = {
    "xz": b"\xfd7zXZ\x00",
    "gzip": b"\x1f\x8b\x08",
    "zstd": b"\x28\xb5\x2f\xfd",
    "lzma": b"\x5d\x00\x00",
}
ELF_MAGIC = b"\x7fELF"


def is_bzimage(image: bytes) -> bool:
    """Whether image starts like a bzImage (its boot-protocol header)."""
    return image[0x202:0x206] == b"HdrS"


def payload(image: bytes) -> bytes:
    """The compressed kernel inside a bzImage, located by its boot-protocol header (2.08+)."""
    if not is_bzimage(image):
        raise CreatureError("not a bzImage: no HdrS boot header")
    protocol, = struct.unpack_from("<H", image, 0x206)
    setup_sects = image[0x1F1] or 4
    if protocol >= 0x208:
        offset, length = struct.unpack_from("<II", image, 0x248)
        start = (setup_sects + 1) * 512 + offset
        return image[start:start + length]
    return image[(setup_sects + 1) * 512:]


def decompress(data: bytes) -> bytes:
    """Decompress a kernel payload with whichever compressor Debian (or another build) used."""
    # imported here: the drivers that boot kernels import this module at every start, and unpack a kernel once
    import lzma
    import tempfile
    import zlib

    if data.startswith(_MAGICS["xz"]):
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
    if data.startswith(_MAGICS["gzip"]):
        return zlib.decompressobj(wbits=31).decompress(data)
    if data.startswith(_MAGICS["lzma"]):
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)
    if data.startswith(_MAGICS["zstd"]):
        zstd = which("zstd")
        if zstd is None:
            raise CreatureError("this kernel is zstd-compressed: install the Debian package zstd")
        with tempfile.TemporaryDirectory(prefix="crt-k.") as tmp:
            src, dst = Path(tmp) / "payload.zst", Path(tmp) / "vmlinux"
            src.write_bytes(data)
            run([zstd, "-q", "-d", "-o", str(dst), str(src)], timeout=120)
            return dst.read_bytes()
    raise CreatureError(f"unknown kernel compression (payload starts {data[:6].hex()})")


def extract_vmlinux(bzimage: Path) -> bytes:
    """The uncompressed ELF vmlinux inside the bzImage file bzimage."""
    elf = decompress(payload(bzimage.read_bytes()))
    if elf[:4] != ELF_MAGIC:
        raise CreatureError(f"{bzimage}: the decompressed payload is not an ELF vmlinux")
    return elf


def vmlinux_file(bzimage: Path, path: Path, mode: int = 0o600) -> Path:
    """path, holding bzimage's vmlinux: extracted the first time only (the callers' cache keys say when to redo it)."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, extract_vmlinux(bzimage), mode)
    return path
