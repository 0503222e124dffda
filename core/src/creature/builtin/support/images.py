"""Disk images of templates for VM drivers (mkfs.ext4 -d, no loop mounts), and the kernel a template boots."""

from __future__ import annotations

import os
from pathlib import Path

from creature.dryrun import DRY_RUN_SCRATCH
from creature.errors import CreatureError
from creature.home import Home
from creature.records import Template
from creature.templates import tree_size


def disk_image(home: Home, template: Template) -> Path:
    """The template's root filesystem as a raw ext4 image (made once, without loop mounts) for VM drivers.

    The file is sparse: its size leaves room to grow in each machine's copy-on-write layer.
    """
    image = template.path / "disk.ext4"
    if image.exists():
        return image
    scratch = DRY_RUN_SCRATCH.get()
    if scratch is not None:
        # --dry-run changes nothing: a template without its image gets a throwaway one
        image = scratch / f"{template.name}.disk.ext4"
        if not image.exists():
            _make_image(template, image, scratch / f".{template.name}.partial")
        return image
    with home.lock("template", template.name):
        if image.exists():
            return image
        _make_image(template, image, template.path / f".disk.ext4.{os.getpid()}")
    return image


def _make_image(template: Template, image: Path, partial: Path) -> None:
    from creature.procs import run, which

    mkfs = which("mkfs.ext4")
    if mkfs is None:
        raise CreatureError("mkfs.ext4 is not installed (Debian package e2fsprogs)")
    used = tree_size(template.rootfs)
    size_mib = max(1024, 2 * used // (1024 * 1024) + 256)
    try:
        with open(partial, "wb") as f:
            f.truncate(size_mib * 1024 * 1024)
        os.chmod(partial, 0o600)
        from creature.builtin.support.progress import progress

        with progress(f"making the disk image of template {template.name} ({size_mib} MiB)") as p:
            run([mkfs, "-F", "-L", "root", "-E", "root_owner=0:0", "-d", str(template.rootfs), str(partial)],
                timeout=600, on_line=p.update)
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
