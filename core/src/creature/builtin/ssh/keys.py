"""The home's SSH key pair: what `creature ssh` logs in with where a machine was created without --ssh-key.

Made with ssh-keygen on first use (ed25519, no passphrase: creature itself uses it, as Vagrant's per-machine
keys are used) in HOME/ssh (0700), the private key 0600. create puts its public half into every guest whose
driver can take keys (Capabilities.guest_access) unless --ssh-key names another.
"""

from __future__ import annotations

import os
from pathlib import Path

from creature.errors import CreatureError
from creature.home import Home, file_lock
from creature.procs import run, which

KEY_NAME = "id_ed25519"


def key_path(home: Home) -> Path:
    """The private key's path (its public half beside it, .pub); it may not exist yet."""
    return home.root / "ssh" / KEY_NAME


def home_key(home: Home) -> tuple[Path, bool]:
    """(the public key file, whether this call made the pair): the home's pair, made now if it does not exist."""
    private = key_path(home)
    public = private.with_name(private.name + ".pub")
    if public.exists() and private.exists():
        return public, False
    keygen = which("ssh-keygen")
    if keygen is None:
        raise CreatureError("ssh-keygen is not installed (Debian package openssh-client): needed for the home's SSH key")
    home.locks  # noqa: B018 (makes the home's layout, 0700, if this is its first use)
    private.parent.mkdir(mode=0o700, exist_ok=True)
    with file_lock(private.parent / "keygen.lock"):
        if public.exists() and private.exists():
            return public, False
        for stale in (private, public):
            stale.unlink(missing_ok=True)
        run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", f"creature@{home.root}", "-f", str(private)], timeout=60)
        os.chmod(private, 0o600)
        os.chmod(public, 0o600)
    return public, True


def forget_key(home: Home) -> None:
    """Remove the home's pair (a create that made it and then failed leaves the home as it found it)."""
    private = key_path(home)
    for path in (private, private.with_name(private.name + ".pub"), private.parent / "keygen.lock"):
        path.unlink(missing_ok=True)
    try:
        private.parent.rmdir()
    except OSError:
        pass


def identity_of(public: str | os.PathLike) -> Path | None:
    """The private key beside a public key file (KEY for KEY.pub), if it is there."""
    path = Path(public)
    private = path.with_name(path.name.removesuffix(".pub")) if path.name.endswith(".pub") else None
    return private if private is not None and private.is_file() else None
