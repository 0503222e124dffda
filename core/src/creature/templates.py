"""The template store: root filesystems built once by a bootstrap method, cloned by drivers."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from creature.errors import CreatureError, InputError, NotFound
from creature.home import Home
from creature.inventory import Inventory
from creature.names import check_name
from creature.records import Template, TemplateMeta


class Bootstrapper:
    """A template build method (busybox, debootstrap, ...), registered through creature_register_bootstrappers.

    Its options are a pydantic model (options_model; None: it takes none): `template build` offers each field
    as a flag (--suite, --from, ...), and validate() checks them with it before anything is made.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    options_model: ClassVar[type | None] = None

    def __init__(self, home: Home):
        self.home = home

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        """Check and normalise options before anything is made; raise InputError (one line) on bad ones."""
        if self.options_model is None:
            if options:
                raise InputError(f"method {self.name!r} takes no options (got {', '.join(sorted(options))})")
            return {}
        from creature.model import validate_options

        return validate_options(self.name, self.options_model, options)

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
        import shutil  # here: start and stop import this module and remove nothing

        shutil.rmtree(path)


class TemplateStore:
    """Templates of one home: build (in staging, renamed when complete), list, remove."""

    def __init__(self, home: Home, inventory: Inventory, methods):
        self.home = home
        self.inventory = inventory
        self._methods = methods  # () -> {name: Bootstrapper class}: the methods are imported only to build

    @cached_property
    def bootstrappers(self) -> dict[str, type[Bootstrapper]]:
        return self._methods()

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
            template = Template(name=name, method=method, path=final, options=options, meta=TemplateMeta.from_dict(meta), size=size)
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


def bootstrappers(plugins) -> dict[str, type[Bootstrapper]]:
    """Every template method registered through creature_register_bootstrappers; a name twice names both plugins."""
    found: dict[str, tuple[type, str]] = {}
    for plugin, function in plugins.each("creature_register_bootstrappers"):
        def register(cls, _p=plugin):
            if cls.name in found:
                raise CreatureError(f"template method {cls.name!r} is registered twice: by"
                                    f" {plugins.distribution_of(found[cls.name][1])} and by {plugins.distribution_of(_p)}")
            found[cls.name] = (cls, _p)
        function(register=register)
    return {name: cls for name, (cls, _p) in found.items()}
