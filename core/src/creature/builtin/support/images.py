"""Disk images of templates for VM drivers (mkfs.ext4 -d, no loop mounts), and the kernel a template boots."""

from __future__ import annotations

import os
from pathlib import Path

from creature.builtin.support.dryrun import DRY_RUN_SCRATCH
from creature.errors import CreatureError
from creature.home import Home
from creature.records import Template
from creature.templates import tree_size


def image_name(size: int | None = None) -> str:
    """The file name of a template's disk image: disk.ext4, or disk-SIZEM.ext4 for a machine's --disk SIZE."""
    return "disk.ext4" if size is None else f"disk-{size}M.ext4"


def disk_image(home: Home, template: Template, size: int | None = None) -> Path:
    """The template's root filesystem as a raw ext4 image (made once, without loop mounts) for VM drivers.

    The file is sparse: its size leaves room to grow in each machine's copy-on-write layer. With size (MiB, a
    machine's --disk), the image has exactly that size, made once per size and shared by the machines of that size.
    """
    image = template.path / image_name(size)
    if image.exists():
        return image
    scratch = DRY_RUN_SCRATCH.get()
    if scratch is not None:
        # --dry-run changes nothing: a template without its image gets a throwaway one
        image = scratch / f"{template.name}.{image.name}"
        if not image.exists():
            _make_image(template, image, scratch / f".{template.name}.partial", size)
        return image
    with home.lock("template", template.name):
        if image.exists():
            return image
        _make_image(template, image, template.path / f".{image.name}.{os.getpid()}", size)
    return image


def _make_image(template: Template, image: Path, partial: Path, size: int | None) -> None:
    from creature.builtin.support.disks import ext4_image

    if size is None:
        size = max(1024, 2 * tree_size(template.rootfs) // (1024 * 1024) + 256)
    try:
        from creature.builtin.support.progress import progress

        with progress(f"making the disk image of template {template.name} ({size} MiB)"):
            ext4_image(partial, size, template.rootfs)
        os.rename(partial, image)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def boot_files(template: Template) -> tuple[Path, Path | None, str]:
    """Kernel and initrd for direct boot: the template's own (meta kernel/initrd), else the host's newest in /boot."""
    kernel = template.meta.kernel
    if kernel and Path(kernel).is_file():
        initrd = template.meta.initrd
        return Path(kernel), Path(initrd) if initrd and Path(initrd).is_file() else None, "template"
    from creature.builtin.bootstrap.osinfo import version_order

    kernels = sorted(Path("/boot").glob("vmlinuz-*"), key=version_order)
    if not kernels:
        raise CreatureError(f"template {template.name!r} has no kernel (add linux-image-amd64 to --include) and /boot has none")
    initrd = kernels[-1].with_name("initrd.img-" + kernels[-1].name.removeprefix("vmlinuz-"))
    return kernels[-1], initrd if initrd.is_file() else None, "host"
