"""The tarball method: a template from a root filesystem tarball made elsewhere (lxc images, docker export, a backup)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from creature.builtin.bootstrap.osinfo import describe
from creature.builtin.support.progress import progress
from creature.errors import CreatureError, InputError
from creature.procs import run, which
from creature.templates import Bootstrapper


class TarballOptions(BaseModel):
    """The tarball method's one option: the file (--from)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str | None = Field(default=None, alias="from", description="the root filesystem tarball to import (required)")

    @model_validator(mode="after")
    def _file(self) -> TarballOptions:
        if not self.source:
            raise ValueError("method 'tarball' needs a file: --from FILE")
        path = Path(self.source).expanduser().absolute()
        if not path.is_file():
            raise ValueError(f"tarball {self.source!r} does not exist or is not a file")
        self.source = str(path)
        return self


class TarballBootstrapper(Bootstrapper):
    """Unpack a rootfs tarball (plain, gzip, xz, zstd or bzip2) as a template, owners and modes kept."""

    name = "tarball"
    description = "import a root filesystem tarball"
    options_model = TarballOptions

    def build(self, rootfs: Path, options: dict[str, Any]) -> dict[str, Any]:
        tar = which("tar")
        if tar is None:
            raise CreatureError("tar is not installed (Debian package tar)")
        with progress(f"unpacking {Path(options['from']).name}") as p:
            # GNU tar refuses members with '..' and strips leading '/': nothing lands outside rootfs
            run([tar, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", str(rootfs), "-xpf", options["from"]],
                timeout=3600, on_line=p.update)
        if not any(rootfs.iterdir()):
            raise InputError(f"tarball {options['from']!r} is empty")
        if not (rootfs / "etc").is_dir():
            raise InputError(f"tarball {options['from']!r} is not a root filesystem (no /etc at its top)")
        return describe(rootfs)
