"""Other hosts: named remote hosts (a libvirt-style URI each) and listings that span them.

A remote host's machines are kept in their own creature home under <home>/hosts/<name>, whose
host.json names the URI; drivers that can reach another host (capability remote, like the libvirt
drivers) read it with host_uri(). Other drivers are refused there: they only know this host.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from creature.errors import InputError, NotFound
from creature.home import Home, write_private
from creature.names import check_name

URI_RE = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s]*$")
LOCAL = "local"


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

    def add(self, name: str, uri: str, driver: str | None = None) -> None:
        """Remember a host; driver becomes the default driver of machines created there."""
        check_name("host", name)
        if name == LOCAL:
            raise InputError(f"{LOCAL!r} names this host; choose another name")
        if not URI_RE.match(uri) or "://" not in uri:
            raise InputError(f"invalid URI {uri!r}: use a libvirt URI like qemu+ssh://user@host/system")
        if name in self.names():
            raise InputError(f"host {name!r} already exists ({self.uri(name)})")
        root = self.folder / name
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        if driver:
            write_private(root / "config.toml", f'driver = "{driver}"\n')
        write_private(root / "host.json", json.dumps({"uri": uri}))

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
