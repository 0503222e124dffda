"""The tarball method: a template from a root filesystem tarball made elsewhere (lxc images, docker export, a backup)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from creature.errors import CreatureError, InputError
from creature.osinfo import describe
from creature.procs import run, which
from creature.progress import progress
from creature.templates import Bootstrapper


class TarballBootstrapper(Bootstrapper):
    """Unpack a rootfs tarball (plain, gzip, xz, zstd or bzip2) as a template, owners and modes kept."""

    name = "tarball"
    description = "import a root filesystem tarball (option: from=FILE)"

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - {"from"})
        if unknown:
            raise InputError(f"method 'tarball' does not take {', '.join(unknown)} (it takes from)")
        source = options.get("from")
        if not source:
            raise InputError("method 'tarball' needs a file: --from FILE")
        path = Path(source).expanduser().absolute()
        if not path.is_file():
            raise InputError(f"tarball {str(source)!r} does not exist or is not a file")
        return {"from": str(path)}

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
