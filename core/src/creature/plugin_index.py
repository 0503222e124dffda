"""A cached record of what the installed plugins hold, so everyday commands need not import them all.

Loading every entry point through stevedore (with importlib.metadata) and pluggy costs more than a
whole `creature list`. After a full load, creature writes down each plugin's module, distribution,
version, the hooks it implements and the drivers it registers; later runs read that record, import
a plugin only when one of its hooks is called, and a driver module only when that driver is used.
The record is keyed by the interpreter and sys.path and is only trusted while the folders on
sys.path (where installing or removing a distribution leaves a new mtime) and every plugin module
are unchanged. Nothing is recorded while a plugin fails to load: that environment is always
loaded in full, so a fixed plugin is seen at once.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from pathlib import Path

FORMAT = 1


def _environment(disabled: frozenset[str]) -> list:
    return [sys.executable, sys.path, sorted(disabled)]


def _key(disabled: frozenset[str]) -> str:
    # a short name only: the record holds the whole environment and is checked against it
    return f"{zlib.crc32(json.dumps(_environment(disabled)).encode()):08x}"


def path(disabled: frozenset[str]) -> Path:
    """Where this environment's record lives (CREATURE_PLUGIN_INDEX_DIR, else the user's cache folder)."""
    folder = os.environ.get("CREATURE_PLUGIN_INDEX_DIR")
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "creature")
    return Path(folder) / f"plugins-{_key(disabled)}.json"


def _mtime(p: str) -> int | None:
    try:
        return os.stat(p).st_mtime_ns
    except OSError:
        return None


def _paths() -> dict[str, int | None]:
    return {p: _mtime(p) for p in sys.path if p}


def load(disabled: frozenset[str]) -> dict | None:
    """The record, or None when there is none or anything it depends on changed."""
    if os.environ.get("CREATURE_NO_PLUGIN_INDEX", "") not in ("", "0"):
        return None
    try:
        record = json.loads(path(disabled).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("paths") != _paths() \
            or record.get("environment") != _environment(disabled):
        return None
    for plugin in record.get("plugins", {}).values():
        if plugin.get("file") and _mtime(plugin["file"]) != plugin.get("mtime"):
            return None
    return record


def save(disabled: frozenset[str], plugins: dict[str, dict], drivers: dict[str, dict]) -> None:
    """Write the record; a cache folder we cannot write only costs speed, never a command."""
    for plugin in plugins.values():
        plugin["mtime"] = _mtime(plugin["file"]) if plugin.get("file") else None
    record = {"format": FORMAT, "environment": _environment(disabled), "paths": _paths(), "plugins": plugins, "drivers": drivers}
    target = path(disabled)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, target)
    except OSError:
        pass
