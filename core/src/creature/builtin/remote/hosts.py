"""Other hosts: named remote hosts (a URI each) and listings that span them.

A remote host's machines are kept in their own creature home under <home>/hosts/<name>, whose
host.json names the URI; drivers that can reach another host (capability remote: the libvirt drivers
with a libvirt URI, ganeti with a cluster's RAPI URL) read it with host_uri(), and the files their
check_host() asked `host add` to keep (credentials, a certificate) from that folder. Other drivers are
refused there: they only know this host.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from creature.errors import CreatureError, InputError, NotFound
from creature.home import Home, write_private
from creature.names import check_name
from creature.records import Record, field

URI_RE = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s]*$")
FILE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
LOCAL = "local"


class HostAccess(Record):
    """What `creature host add` was given besides the URI: credentials, the host's certificate, driver options."""

    user: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_cert: bytes | None = field(default=None, repr=False)
    options: dict[str, str] = field(factory=dict)

    def given(self) -> list[str]:
        """The command-line names of what was given (for a driver that takes none of them)."""
        names = [flag for flag, value in (("--user", self.user), ("--password-file", self.password),
                                          ("--ca-cert", self.ca_cert)) if value is not None]
        return names + [f"--option {key}" for key in self.options]


def host_uri(home: Home) -> str | None:
    """The URI of the remote host whose machines home holds; None for this host's own home."""
    try:
        return json.loads((home.root / "host.json").read_text())["uri"]
    except (OSError, ValueError, KeyError):
        return None


class Hosts:
    """The remote hosts known to one (local) creature home."""

    def __init__(self, home: Home):
        self.home = home
        self.folder = home.root / "hosts"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if (p / "host.json").is_file())

    def uri(self, name: str) -> str:
        uri = host_uri(self.home_of(name))
        if uri is None:
            raise NotFound(f"no host named {name!r} (see `creature host list`)")
        return uri

    def home_of(self, name: str) -> Home:
        check_name("host", name)
        return Home(self.folder / name)

    def add(self, name: str, uri: str, driver: str | None = None, access: HostAccess | None = None) -> None:
        """Remember a host; driver becomes the default driver of machines created there and checks access first.

        access (credentials, certificate, options) goes to the driver's check_host, which may contact the
        host; the files it returns are kept 0600 in the host's folder.
        """
        access = access or HostAccess()
        check_name("host", name)
        if name == LOCAL:
            raise InputError(f"{LOCAL!r} names this host; choose another name")
        if not URI_RE.match(uri) or "://" not in uri:
            raise InputError(f"invalid URI {uri!r}: use a libvirt URI like qemu+ssh://user@host/system, "
                             "or a Ganeti cluster's https://HOST:5080")
        if name in self.names():
            raise InputError(f"host {name!r} already exists ({self.uri(name)})")
        files = self._check(uri, driver, access)
        root = self.folder / name
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        try:
            if driver:
                write_private(root / "config.toml", f'driver = "{driver}"\n')
            for file, text in files.items():
                write_private(root / file, text)
            write_private(root / "host.json", json.dumps({"uri": uri}))  # last: it makes the host known
        except BaseException:
            from creature.templates import remove_tree

            remove_tree(root)
            raise

    @staticmethod
    def _check(uri: str, driver: str | None, access: HostAccess) -> dict[str, str]:
        if driver is None:
            if access.given():
                raise InputError(f"{', '.join(access.given())} need a --driver to take them")
            return {}
        from creature.plugins import get_plugins

        cls = get_plugins().registry().entry(driver).cls
        if not cls.capabilities.remote:
            raise InputError(f"driver {driver!r} manages this host only: it cannot reach another host")
        files = cls.check_host(uri, access)
        for file in files:
            if not FILE_RE.match(file) or file in ("host.json", "config.toml") or file.startswith("inventory"):
                raise CreatureError(f"driver {driver!r} asked to keep a file named {file!r}, which creature refuses")
        return files

    def remove(self, name: str) -> None:
        from creature.inventory import Inventory
        from creature.templates import remove_tree

        home = self.home_of(name)
        self.uri(name)
        if home.inventory.exists():
            inventory = Inventory(home.inventory)
            try:
                left = inventory.machine_names()
            finally:
                inventory.close()
            if left:
                raise InputError(f"host {name!r} still has machines: {', '.join(left)}; destroy them first")
        remove_tree(Path(home.root))
