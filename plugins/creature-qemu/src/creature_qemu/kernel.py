"""The guest kernel: Debian's kernel from /boot, its vmlinux extracted from the bzImage, cached by version."""

from __future__ import annotations

import lzma
import re
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from creature.errors import CreatureError
from creature.guest_initramfs import write_atomic
from creature.home import shared_cache
from creature.procs import run, which

BOOT = Path("/boot")
MODULES = Path("/lib/modules")

# Magic numbers of the compressors a bzImage payload may use (arch/x86/boot/compressed).
_MAGICS = {
    "xz": b"\xfd7zXZ\x00",
    "gzip": b"\x1f\x8b\x08",
    "zstd": b"\x28\xb5\x2f\xfd",
    "lzma": b"\x5d\x00\x00",
}


@dataclass(frozen=True)
class HostKernel:
    """An installed Debian kernel: its bzImage and the folder of its modules."""

    version: str
    bzimage: Path
    modules: Path


def installed_kernel(boot: Path = BOOT, modules: Path = MODULES) -> HostKernel:
    """The newest kernel in /boot whose modules are installed (Debian package linux-image-amd64)."""
    found = []
    for image in boot.glob("vmlinuz-*"):
        version = image.name.removeprefix("vmlinuz-")
        if (modules / version / "modules.dep").is_file():
            key = tuple(int(n) for n in re.findall(r"\d+", version))
            found.append((key, HostKernel(version, image, modules / version)))
    if not found:
        raise CreatureError(
            f"no kernel with modules in {boot} and {modules}: install the Debian package linux-image-amd64"
        )
    return max(found, key=lambda f: f[0])[1]


def _payload(image: bytes) -> bytes:
    """The compressed kernel inside a bzImage, located by its boot-protocol header (2.08+)."""
    if image[0x202:0x206] != b"HdrS":
        raise CreatureError("not a bzImage: no HdrS boot header")
    protocol, = struct.unpack_from("<H", image, 0x206)
    setup_sects = image[0x1F1] or 4
    if protocol >= 0x208:
        offset, length = struct.unpack_from("<II", image, 0x248)
        start = (setup_sects + 1) * 512 + offset
        return image[start:start + length]
    return image[(setup_sects + 1) * 512:]


def decompress(payload: bytes) -> bytes:
    """Decompress a kernel payload with whichever compressor Debian (or another build) used."""
    if payload.startswith(_MAGICS["xz"]):
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    if payload.startswith(_MAGICS["gzip"]):
        return zlib.decompressobj(wbits=31).decompress(payload)
    if payload.startswith(_MAGICS["lzma"]):
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(payload)
    if payload.startswith(_MAGICS["zstd"]):
        zstd = which("zstd")
        if zstd is None:
            raise CreatureError("this kernel is zstd-compressed: install the Debian package zstd")
        with tempfile.TemporaryDirectory(prefix="crt-k.") as tmp:
            src, dst = Path(tmp) / "payload.zst", Path(tmp) / "vmlinux"
            src.write_bytes(payload)
            run([zstd, "-q", "-d", "-o", str(dst), str(src)], timeout=120)
            return dst.read_bytes()
    raise CreatureError(f"unknown kernel compression (payload starts {payload[:6].hex()})")


def extract_vmlinux(bzimage: Path) -> bytes:
    """The uncompressed ELF vmlinux inside a bzImage (it carries the PVH entry note QEMU boots directly)."""
    elf = decompress(_payload(bzimage.read_bytes()))
    if elf[:4] != b"\x7fELF":
        raise CreatureError(f"{bzimage}: the decompressed payload is not an ELF vmlinux")
    return elf


def qemu_cache() -> Path:
    """shared_cache()/qemu: what this plugin derives from the host (kernels, initramfs, the KVM verdict)."""
    path = shared_cache() / "qemu"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def cache_dir(kernel: HostKernel) -> Path:
    """shared_cache()/qemu/<kernel version>: the vmlinux and initramfs made from that kernel."""
    path = qemu_cache() / kernel.version
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def cached_vmlinux(kernel: HostKernel, build: bool = True) -> Path:
    """The kernel's vmlinux, extracted once per version (the cache key) and shared by every home."""
    path = cache_dir(kernel) / "vmlinux"
    if build and not path.exists():
        write_atomic(path, extract_vmlinux(kernel.bzimage))
    return path

