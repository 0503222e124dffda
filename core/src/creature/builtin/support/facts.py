"""Facts a probe learns by running a program (a tool's version, where tools are), kept until the programs change.

A driver's probe runs before every lifecycle command; running `lxc-start --version` each time costs more than
the rest of the command. A fact is stored with the files it came from (path, size, mtime, inode) and PATH, and
is learned again as soon as any of them differs: an upgrade or a new PATH is noticed at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from creature.home import shared_cache, write_atomic


def _stamp(paths: list[str]) -> list:
    stamps = []
    for path in paths:
        try:
            st = os.stat(path)
            stamps.append([path, st.st_size, st.st_mtime_ns, st.st_ino])
        except OSError:
            stamps.append([path, None])
    return stamps


def remembered(name: str, learn: Callable[[], tuple[dict, list[str]]]) -> dict:
    """learn() -> (facts, the files they depend on), run only when no stored answer is still valid."""
    import hashlib  # here: drivers import this module at their own import, `destroy` never asks a fact

    key = hashlib.sha256(json.dumps([name, os.environ.get("PATH", ""), os.geteuid()]).encode()).hexdigest()[:16]
    path = shared_cache() / "facts" / f"{key}.json"
    try:
        stored = json.loads(path.read_text())
        if stored["stamps"] == _stamp([s[0] for s in stored["stamps"]]):
            return stored["facts"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    facts, files = learn()
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        write_atomic(path, json.dumps({"name": name, "facts": facts, "stamps": _stamp(sorted(files))}).encode())
    except OSError:
        pass  # a cache we cannot write costs speed only
    return facts


def tools(name: str, programs: tuple[str, ...], version_argv: tuple[str, ...] = ()) -> dict:
    """{"paths": {program: path or None}, "version": first line of `path[0] version_argv`} for programs, remembered."""
    def learn():
        from creature.procs import run, which

        paths = {p: which(p) for p in programs}
        version = ""
        if version_argv and all(paths.values()):
            version = run([paths[programs[0]], *version_argv], check=False, timeout=10).stdout.strip().splitlines()[:1]
            version = version[0] if version else ""
        return {"paths": paths, "version": version}, [p for p in paths.values() if p] + _path_dirs()
    return remembered(name, learn)


def _path_dirs() -> list[str]:
    # a program that appears in an earlier PATH folder changes that folder's mtime
    return [d for d in os.environ.get("PATH", "").split(":") + ["/usr/local/sbin", "/usr/sbin", "/sbin"] if d and Path(d).is_dir()]
