"""cloud-init NoCloud seeds: the ISO9660 image (label `cidata`) VM drivers attach so a guest configures itself from inside."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from creature.errors import CreatureError, InputError
from creature.procs import run, which

SEED_NAME = "cloud-init-seed.iso"


def read_user_data(file: str | os.PathLike) -> str:
    """The user-data file's text; a missing or unreadable file is an InputError."""
    try:
        text = Path(file).read_text()
    except FileNotFoundError:
        raise InputError(f"cloud-init file {str(file)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cloud-init file {str(file)!r} cannot be read: {exc}") from None
    if not text.strip():
        raise InputError(f"cloud-init file {str(file)!r} is empty")
    return text


def meta_data(name: str, instance_id: str) -> str:
    return f"instance-id: {instance_id}\nlocal-hostname: {name}\n"


def make_seed(folder: Path, name: str, user_data: str) -> Path:
    """Write folder/cloud-init-seed.iso holding user-data and meta-data (instance-id, local-hostname = name)."""
    tool = which("xorriso") or which("genisoimage")
    if tool is None:
        raise CreatureError("neither xorriso nor genisoimage is installed (Debian packages xorriso, genisoimage)")
    # a new instance-id per machine: cloud-init runs its first-boot modules once per id
    instance_id = f"{name}-{uuid.uuid4().hex[:12]}"
    seed = folder / SEED_NAME
    with tempfile.TemporaryDirectory(prefix="creature-seed.") as tmp:
        (Path(tmp) / "user-data").write_text(user_data)
        (Path(tmp) / "meta-data").write_text(meta_data(name, instance_id))
        front = [tool, "-as", "mkisofs"] if tool.endswith("xorriso") else [tool]
        run([*front, "-quiet", "-output", str(seed), "-volid", "cidata", "-joliet", "-rock", tmp], timeout=120)
    os.chmod(seed, 0o600)
    return seed
