"""The guest kernel: Debian's kernel from /boot, its vmlinux extracted from the bzImage, cached by version."""

from __future__ import annotations

import re
from pathlib import Path

from creature.sdk import CreatureError, Record, shared_cache, vmlinux_file

BOOT = Path("/boot")
MODULES = Path("/lib/modules")

class HostKernel(Record, frozen=True):
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
    return vmlinux_file(kernel.bzimage, path) if build else path

