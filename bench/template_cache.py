#!/usr/bin/env python3
"""debootstrap template builds: a cold build (empty cache: download, install, cache) against a second build of the same key.

Uses a private, empty cache folder (CREATURE_CACHE) so the first build is really cold; the shared
cache is left alone. Target: the second build takes under 20% of the first's time.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import VENV_BIN, report  # noqa: E402

BUILD = ["--method", "debootstrap", "--suite", "bookworm", "--variant", "minbase"]


def timed(argv: list[str], env: dict) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
    return time.perf_counter() - started


def main() -> None:
    creature = str(VENV_BIN / "creature")
    home = Path(tempfile.mkdtemp(prefix="crb.", dir="/tmp"))
    cache = Path(tempfile.mkdtemp(prefix="crb-cache.", dir="/var/tmp"))
    env = dict(os.environ, CREATURE_CACHE=str(cache))
    try:
        cold = timed([creature, "--home", str(home), "template", "build", "deb-cold", *BUILD], env)
        warm = timed([creature, "--home", str(home), "template", "build", "deb-warm", *BUILD], env)
        print(f"first build (empty cache): {cold:.1f} s; second build, same key: {warm:.1f} s; ratio {warm / cold:.3f}")
        report("template_cache", [
            {"operation": "template build, same key, cached (vs cold)", "creature": warm, "raw": cold,
             "ratio": warm / cold, "target": "ratio < 0.20 (raw: first build, empty cache)"},
        ])
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
