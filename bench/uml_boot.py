#!/usr/bin/env python3
"""UML boot: `creature start` (CLI and API) to the first console line and to the guest's "is up" line,
against the same linux.uml command line run by hand (taken from the driver's --dry-run plan)."""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import VENV_BIN, report  # noqa: E402
from creature.api import Creature  # noqa: E402
from creature.procs import run  # noqa: E402
from creature.testing_cleanup import cleanup_home  # noqa: E402

RUNS = 5
NAME = "bench"
UP_LINE = f"creature: {NAME} is up".encode()


def watch(log: Path, t0: float, timeout: float = 60) -> tuple[float, float]:
    """Seconds from t0 until log holds its first complete line, and until the guest's "is up" line."""
    first = None
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            data = log.read_bytes()
        except FileNotFoundError:
            data = b""
        now = time.perf_counter()
        if first is None and b"\n" in data:
            first = now - t0
        if UP_LINE in data:
            return first, now - t0
        time.sleep(0.002)
    raise SystemExit(f"no {UP_LINE!r} in {log} within {timeout} s")


def by_hand(api: Creature, argv: list[str], log: Path) -> tuple[float, float]:
    machine = api.machine(NAME)
    shutil.rmtree(machine.dir / "uml", ignore_errors=True)
    (machine.dir / "uml").mkdir(mode=0o700)
    log.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    times = watch(log, t0)
    socket = machine.dir / "uml" / NAME / "mconsole"
    while not socket.exists():
        time.sleep(0.01)
    run(["uml_mconsole", str(socket), "cad"], check=False)
    proc.wait(timeout=60)
    return times


def with_creature(api: Creature, cli: bool) -> tuple[float, float]:
    log = api.machine(NAME).dir / "console.log"
    log.unlink(missing_ok=True)
    t0 = time.perf_counter()
    if cli:
        proc = subprocess.Popen([str(VENV_BIN / "creature"), "--home", str(api.home.root), "start", NAME])
        times = watch(log, t0)
        assert proc.wait(timeout=60) == 0
    else:
        # a fresh API object (no cached probe or driver); start() returns once UML runs, so watch meanwhile
        starter = threading.Thread(target=Creature(api.home).start, args=(NAME,))
        starter.start()
        times = watch(log, t0)
        starter.join()
    assert not api.stop(NAME, timeout=60).forced
    return times


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="crb.", dir="/tmp"))
    api = Creature(home)
    try:
        api.templates.build("bb", "busybox")
        api.create({"name": NAME, "driver": "uml", "template": "bb", "memory": "128M"})
        argv = api.driver("uml").plan(api.machine(NAME), "start")[0]
        raw_log = home / "raw-console.log"
        samples = {"raw": [], "cli": [], "api": []}
        by_hand(api, argv, raw_log)  # warm-up: page cache, first mount of the COW
        for _ in range(RUNS):
            samples["raw"].append(by_hand(api, argv, raw_log))
            samples["cli"].append(with_creature(api, cli=True))
            samples["api"].append(with_creature(api, cli=False))
        med = {k: (statistics.median(s[0] for s in v), statistics.median(s[1] for s in v)) for k, v in samples.items()}
        raw_first, raw_up = med["raw"]
        rows = []
        for kind, label in (("cli", "creature start (CLI)"), ("api", "Creature.start (API)")):
            first, up = med[kind]
            rows.append({"operation": f"{label} -> first console line", "creature": first, "raw": raw_first,
                         "ratio": first / raw_first, "target": "ratio <= 1.10"})
            rows.append({"operation": f"{label} -> guest 'is up' line", "creature": up, "raw": raw_up,
                         "ratio": up / raw_up, "target": "ratio <= 1.10"})
        print(f"median of {RUNS} runs; raw = the planned linux.uml argv started by hand")
        report("uml_boot", rows)
    finally:
        cleanup_home(home)


if __name__ == "__main__":
    os.umask(0o077)
    main()
