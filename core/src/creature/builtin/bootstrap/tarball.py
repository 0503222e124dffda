"""The tarball method: a template from a root filesystem tarball made elsewhere (lxc images, docker export, a backup).

Every entry is read with Python's tarfile before GNU tar extracts anything (at option validation, so bad input
changes nothing): a file that is not a tar archive, an entry with an absolute path or `..`, one that goes
through a symbolic link the archive made, a hard link out of the tree, a device node outside /dev, or no /etc
at the top is refused with one line (exit 2). GNU tar, which keeps owners, modes and xattrs, then unpacks it.
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path, PurePosixPath
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
        check_tarball(path, self.source)
        self.source = str(path)
        return self


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def check_tarball(path: Path, shown: str) -> None:
    """Read every entry of the archive at path; ValueError (the reason, naming it as shown) if it must not be unpacked."""
    with open(path, "rb") as f:
        zstd = f.read(4) == ZSTD_MAGIC
    if not zstd:
        try:
            with tarfile.open(path) as tar:  # plain, gzip, bzip2 or xz
                _check_members(tar, shown)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ValueError(f"tarball {shown!r} is not a readable tar archive (plain, gzip, bzip2, xz or zstd): {_first(exc)}") from None
        return
    tool = which("zstd")
    if tool is None:
        raise ValueError(f"tarball {shown!r} is zstd-compressed: install the Debian package zstd")
    with subprocess.Popen([tool, "-dcq", str(path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                _check_members(tar, shown)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ValueError(f"tarball {shown!r} is not a readable tar archive (zstd): {_first(exc)}") from None
        finally:
            proc.kill()


def _first(exc: Exception) -> str:
    """tarfile's reason in one line (it lists each compression it tried on lines of their own)."""
    return (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(": ")


def _check_members(tar: tarfile.TarFile, shown: str) -> None:
    symlinks: set[str] = set()
    top_etc = entries = False
    for member in tar:
        entries = True
        name = member.name
        parts = [p for p in PurePosixPath(name).parts if p != "."]
        if name.startswith("/"):
            raise ValueError(f"tarball {shown!r} has an entry with an absolute path: {name!r}")
        if ".." in parts:
            raise ValueError(f"tarball {shown!r} has an entry that climbs out with '..': {name!r}")
        through = next(("/".join(parts[:i]) for i in range(1, len(parts)) if "/".join(parts[:i]) in symlinks), None)
        if through is not None:
            raise ValueError(f"tarball {shown!r} has an entry {name!r} below the symbolic link {through!r} it made")
        if member.islnk() and (member.linkname.startswith("/") or ".." in PurePosixPath(member.linkname).parts):
            raise ValueError(f"tarball {shown!r} has a hard link {name!r} to {member.linkname!r}, outside the archive")
        if (member.ischr() or member.isblk()) and parts[:1] != ["dev"]:
            raise ValueError(f"tarball {shown!r} has a device node outside /dev: {name!r}")
        if member.issym():
            symlinks.add("/".join(parts))
        top_etc = top_etc or (parts[:1] == ["etc"] and (member.isdir() or len(parts) > 1))
    if not entries:
        raise ValueError(f"tarball {shown!r} is empty")
    if not top_etc:
        raise ValueError(f"tarball {shown!r} is not a root filesystem (no /etc at its top)")


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
        if not (rootfs / "etc").is_dir():  # checked before (check_tarball), unless the file changed since
            raise InputError(f"tarball {options['from']!r} is not a root filesystem (no /etc at its top)")
        return describe(rootfs)
