"""The creature home: where the inventory, machines, templates, caches and locks live."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from creature.errors import CreatureError, InputError


def default_home() -> Path:
    """--home, then CREATURE_HOME, then /var/lib/creature for root or the XDG data folder."""
    env = os.environ.get("CREATURE_HOME")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/creature")
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "creature"


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a file that only its owner can read (state files are never world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file whole or not at all (private unless mode says otherwise): a concurrent reader never sees half of it."""
    import tempfile  # not at module level: `creature list` and --help import this module and never write here

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def shared_cache() -> Path:
    """Downloads and derived artifacts keyed by version (debootstrap tarballs, kernels), shared by every home.

    CREATURE_CACHE, else /var/cache/creature for root, else the XDG cache folder.
    """
    env = os.environ.get("CREATURE_CACHE")
    if env:
        path = Path(env)
    elif os.geteuid() == 0:
        path = Path("/var/cache/creature")
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "creature"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


@contextmanager
def file_lock(path: Path):
    """Hold an exclusive flock on path (made 0600) for the block: one filler of a shared cache at a time, released if we die."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Home:
    """Paths under one creature home; folders are made 0700 on first use."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root else default_home()
        self.root = self.root.absolute()

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.sqlite"

    LAYOUT = ("machines", "templates", "staging", "cache", "locks")

    def _dir(self, name: str) -> Path:
        path = self.root / name
        if not path.is_dir():
            # the whole layout at once, so that a home looks the same whichever command touched it first
            try:
                for sub in self.LAYOUT:
                    (self.root / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
                self.root.chmod(0o700)
            except OSError as exc:
                raise CreatureError(f"cannot create {path}: {exc.strerror}") from None
        return path

    @property
    def machines(self) -> Path:
        return self._dir("machines")

    @property
    def templates(self) -> Path:
        return self._dir("templates")

    @property
    def staging(self) -> Path:
        return self._dir("staging")

    @property
    def cache(self) -> Path:
        return self._dir("cache")

    @property
    def locks(self) -> Path:
        return self._dir("locks")

    @property
    def networks(self) -> Path:
        return self._dir("networks")

    def machine_dir(self, name: str) -> Path:
        return self.machines / name

    def config(self) -> dict:
        """The home's config.toml (empty when there is none); a file that does not parse is bad input."""
        path = self.root / "config.toml"
        try:
            text = path.read_text()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror}") from None
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: {exc}") from None

    @contextmanager
    def lock(self, kind: str, name: str, blocking: bool = True):
        """An exclusive flock serialising work on one machine or template; released on exit or death."""
        path = self.locks / f"{kind}.{name}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                raise CreatureError(f"{kind} {name!r} is busy: another creature command is working on it") from None
            yield
        finally:
            os.close(fd)

    def is_locked(self, kind: str, name: str) -> bool:
        """True while some process holds the lock (used by doctor to tell work in progress from leftovers)."""
        path = self.locks / f"{kind}.{name}.lock"
        if not path.exists():
            return False
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
