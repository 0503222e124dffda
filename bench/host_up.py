#!/usr/bin/env python3
"""`creature host up` of 30 autostart LXC machines, against starting the same containers one by one with lxc-start."""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import VENV_BIN, report  # noqa: E402
from creature.api import Creature  # noqa: E402
from creature.procs import which  # noqa: E402
from creature.testing_cleanup import cleanup_home  # noqa: E402

MACHINES = 30
RUNS = 3


def timed(argvs: list[list[str]]) -> float:
    start = time.perf_counter()
    for argv in argvs:
        subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    creature = [str(VENV_BIN / "creature")]
    home = Path(tempfile.mkdtemp(prefix="crb.", dir="/tmp"))
    names = [f"m{i:02d}" for i in range(MACHINES)]
    lxcpath = str(home / "machines")
    try:
        api = Creature(home)
        api.templates.build("bb", "busybox")
        for name in names:
            api.create({"name": name, "driver": "lxc", "template": "bb", "autostart": True})
        cli = [*creature, "--home", str(home)]
        kill_raw = [[which("lxc-stop"), "-P", lxcpath, "-n", n, "-k"] for n in names]
        one_by_one = [[which("lxc-start"), "-P", lxcpath, "-n", n, "-d"] for n in names]

        def median(argvs) -> float:
            samples = []
            for _ in range(RUNS):
                samples.append(timed(argvs))
                timed(kill_raw)
            return statistics.median(samples)

        parallel = median([[*cli, "host", "up"]])
        for i, name in enumerate(names):  # three orders of ten: three waves
            api.set_autostart(name, True, order=i % 3)
        ordered = median([[*cli, "host", "up"]])
        raw = median(one_by_one)
        report("host_up", [
            {"operation": f"host up, {MACHINES} LXC machines, one order", "creature": parallel, "raw": raw,
             "ratio": parallel / raw, "target": "ratio < 1 (raw: lxc-start -d one by one)"},
            {"operation": f"host up, {MACHINES} LXC machines, 3 orders", "creature": ordered, "raw": raw,
             "ratio": ordered / raw, "target": "ratio < 1.5 (raw: lxc-start -d one by one)"},
        ])
    finally:
        cleanup_home(home)


if __name__ == "__main__":
    main()
