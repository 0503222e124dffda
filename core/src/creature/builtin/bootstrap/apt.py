"""The Debian mirror this host's apt uses, read from its sources (one-line and deb822 formats)."""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT_MIRROR = "http://deb.debian.org/debian"


def _sources(apt: Path) -> list[tuple[list[str], list[str]]]:
    """(URIs, suites) of every enabled `deb` entry in apt's sources (apt: the /etc/apt folder), in file order."""
    entries = []
    listing = apt / "sources.list"
    folder = apt / "sources.list.d"
    files = [listing] if listing.is_file() else []
    files += sorted(folder.glob("*.list")) + sorted(folder.glob("*.sources")) if folder.is_dir() else []
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if path.suffix == ".sources":
            for paragraph in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in paragraph.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes").lower() != "no":
                    entries.append((fields.get("uris", "").split(), fields.get("suites", "").split()))
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    entries.append(([words[1]], [words[2]]))
    return [(uris, suites) for uris, suites in entries if uris]


def host_mirror(suite: str, apt: Path = Path("/etc/apt")) -> str:
    """The mirror apt on this host uses: one that carries suite, else its main (non-security) archive."""
    entries = _sources(apt)
    for uris, suites in entries:
        if suite in suites:
            return uris[0]
    for uris, suites in entries:
        if not any(s.endswith(("-security", "/updates")) for s in suites):
            return uris[0]
    return DEFAULT_MIRROR
