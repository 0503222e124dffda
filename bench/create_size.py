#!/usr/bin/env python3
"""`creature create` (LXC, copy-on-write) from a busybox template against a ~300 MB Debian template.

The large template is bookworm minbase from debootstrap (the shared tarball cache makes it quick after
the first time) plus 100 MB of ballast in /opt, imported with the tarball method. Target: creating
from it takes under 1.5x the time from busybox, because a clone never copies the template.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import VENV_BIN, report  # noqa: E402
from creature.api import Creature  # noqa: E402
from creature.testing_cleanup import cleanup_home  # noqa: E402

RUNS = 7


def create_times(creature: str, home: Path, templates: list[str]) -> dict[str, float]:
    """Median create time per template; runs alternate between templates so load on the host hits both alike."""
    samples: dict[str, list[float]] = {t: [] for t in templates}
    for i in range(RUNS + 1):
        for template in templates:
            name = f"{template}-{i}"
            started = time.perf_counter()
            subprocess.run([creature, "--home", str(home), "create", name, "--driver", "lxc", "--template", template],
                           check=True, capture_output=True)
            elapsed = time.perf_counter() - started
            subprocess.run([creature, "--home", str(home), "destroy", name], check=True, capture_output=True)
            if i:  # the first round warms caches
                samples[template].append(elapsed)
    return {t: statistics.median(s) for t, s in samples.items()}


def api_create_times(home: Path, templates: list[str]) -> dict[str, float]:
    """The same through the Python API, without the CLI's process start-up (which dominates on a busy host)."""
    api = Creature(home)
    samples: dict[str, list[float]] = {t: [] for t in templates}
    for i in range(RUNS * 3):
        for template in templates:
            started = time.perf_counter()
            api.create({"name": f"api-{template}-{i}", "driver": "lxc", "template": template})
            samples[template].append(time.perf_counter() - started)
            api.destroy(f"api-{template}-{i}")
    api.inventory.close()
    return {t: statistics.median(s) for t, s in samples.items()}


def main() -> None:
    creature = str(VENV_BIN / "creature")
    home = Path(tempfile.mkdtemp(prefix="crb.", dir="/tmp"))
    work = Path(tempfile.mkdtemp(prefix="crb-big.", dir="/var/tmp"))
    try:
        api = Creature(home)
        small = api.templates.build("bb", "busybox")
        deb = api.templates.build("deb", "debootstrap", {"suite": "bookworm", "variant": "minbase"})
        (work / "opt").mkdir()
        with open(work / "opt/ballast", "wb") as f:
            for _ in range(100):
                f.write(os.urandom(1024 * 1024))
        subprocess.run(["tar", "--numeric-owner", "-C", str(deb.rootfs), "-cf", str(work / "big.tar"), ".",
                        "-C", str(work), "opt/ballast"], check=True)
        big = api.templates.build("big", "tarball", {"from": str(work / "big.tar")})
        api.inventory.close()
        times = create_times(creature, home, ["bb", "big"])
        small_time, big_time = times["bb"], times["big"]
        in_process = api_create_times(home, ["bb", "big"])
        print(f"templates: busybox {small.size / 2**20:.0f} MiB, debian+ballast {big.size / 2**20:.0f} MiB; "
              f"create median: {small_time:.3f} s vs {big_time:.3f} s; ratio {big_time / small_time:.2f}; "
              f"API: {in_process['bb'] * 1000:.1f} ms vs {in_process['big'] * 1000:.1f} ms; "
              f"ratio {in_process['big'] / in_process['bb']:.2f}")
        report("create_size", [
            {"operation": f"create from a {big.size / 2**20:.0f} MiB template (lxc)", "creature": big_time,
             "raw": small_time, "ratio": big_time / small_time,
             "target": f"ratio < 1.5 (raw: create from busybox, {small.size / 2**20:.0f} MiB)"},
            {"operation": f"API create from a {big.size / 2**20:.0f} MiB template", "creature": in_process["big"],
             "raw": in_process["bb"], "ratio": in_process["big"] / in_process["bb"],
             "target": "ratio < 1.5 (raw: API create from busybox)"},
        ])
    finally:
        cleanup_home(home)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
