"""The template store: root filesystems built once by a bootstrap method, cloned by drivers."""

from __future__ import annotations

import os
import shutil
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar

from creature.errors import CreatureError, InputError, NotFound
from creature.home import Home
from creature.inventory import Inventory
from creature.model import Template, check_name


class Bootstrapper:
    """A template build method (busybox, debootstrap, ...), registered through creature_register_bootstrappers."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, home: Home):
        self.home = home

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        """Check and normalise options before anything is made; raise InputError on bad ones."""
        if options:
            raise InputError(f"method {self.name!r} takes no options (got {', '.join(sorted(options))})")
        return options

    def build(self, rootfs: Path, options: dict[str, Any]) -> dict[str, Any]:
        """Fill the empty folder rootfs; return metadata (os, init, halt_signal, ...)."""
        raise NotImplementedError


def tree_size(path: Path) -> int:
    """Bytes used by the files below path (links counted once, symlinks not followed)."""
    total, seen = 0, set()
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def remove_tree(path: Path) -> None:
    """Remove a folder of ours completely, whatever its modes (overlay work dirs are 000)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


# Set by a dry run to a throwaway folder: disk_image() then builds a missing image there, not in the template.
DRY_RUN_SCRATCH: ContextVar[Path | None] = ContextVar("DRY_RUN_SCRATCH", default=None)


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
        from creature.progress import progress

        with progress(f"making the disk image of template {template.name} ({size_mib} MiB)") as p:
            run([mkfs, "-F", "-L", "root", "-E", "root_owner=0:0", "-d", str(template.rootfs), str(partial)],
                timeout=600, on_line=p.update)
        os.rename(partial, image)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def boot_files(template: Template) -> tuple[Path, Path | None, str]:
    """Kernel and initrd for direct boot: the template's own (meta kernel/initrd), else the host's newest in /boot."""
    kernel = template.meta.get("kernel")
    if kernel and Path(kernel).is_file():
        initrd = template.meta.get("initrd")
        return Path(kernel), Path(initrd) if initrd and Path(initrd).is_file() else None, "template"
    from creature.osinfo import version_order

    kernels = sorted(Path("/boot").glob("vmlinuz-*"), key=version_order)
    if not kernels:
        raise CreatureError(f"template {template.name!r} has no kernel (add linux-image-amd64 to --include) and /boot has none")
    initrd = kernels[-1].with_name("initrd.img-" + kernels[-1].name.removeprefix("vmlinuz-"))
    return kernels[-1], initrd if initrd.is_file() else None, "host"


class TemplateStore:
    """Templates of one home: build (in staging, renamed when complete), list, remove."""

    def __init__(self, home: Home, inventory: Inventory, bootstrappers: dict[str, type[Bootstrapper]]):
        self.home = home
        self.inventory = inventory
        self.bootstrappers = bootstrappers

    def get(self, name: str) -> Template:
        check_name("template", name)
        template = self.inventory.template(name)
        if template is None:
            raise NotFound(f"no template named {name!r} (see `creature template list`)")
        return template

    def method(self, method: str) -> Bootstrapper:
        cls = self.bootstrappers.get(method)
        if cls is None:
            raise InputError(f"unknown template method {method!r} (known: {', '.join(sorted(self.bootstrappers))})")
        return cls(self.home)

    def build(self, name: str, method: str, options: dict[str, Any] | None = None) -> Template:
        check_name("template", name)
        bootstrapper = self.method(method)
        options = bootstrapper.validate(dict(options or {}))
        with self.home.lock("template", name, blocking=False):
            if self.inventory.template(name) is not None:
                raise InputError(f"template {name!r} already exists")
            final = self.home.templates / name
            if final.exists():
                raise CreatureError(f"{final} exists but is not in the inventory: run `creature doctor --fix`")
            staging = self.home.staging / f"template.{name}.{os.getpid()}"
            remove_tree(staging)
            staging.mkdir(mode=0o700)
            try:
                rootfs = staging / "rootfs"
                rootfs.mkdir(mode=0o755)
                meta = bootstrapper.build(rootfs, options)
                size = tree_size(staging)
                os.rename(staging, final)
                for key in ("kernel", "initrd"):  # methods name them inside rootfs; VM drivers want host paths
                    if isinstance(meta.get(key), str) and not meta[key].startswith("/"):
                        meta[key] = str(final / "rootfs" / meta[key])
            except BaseException:
                remove_tree(staging)
                raise
            template = Template(name=name, method=method, path=final, options=options, meta=meta, size=size)
            try:
                self.inventory.add_template(template)
            except BaseException:
                remove_tree(final)
                raise
            return template

    def list(self) -> list[Template]:
        return self.inventory.templates()

    def remove(self, name: str) -> None:
        template = self.get(name)
        with self.home.lock("template", name, blocking=False):
            users = self.inventory.users_of_template(name)
            if users:
                raise InputError(f"template {name!r} is used by {', '.join(users)}: destroy those machines first")
            self.inventory.remove_template(name)
            remove_tree(template.path)
