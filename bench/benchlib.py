"""Shared benchmark helpers: timing commands and printing/writing ratio rows (never asserted in tests)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def compile_sources() -> None:
    """Byte-compile creature's editable sources, as pip does for an installed package, so no run pays for it."""
    sources = [str(ROOT / "core" / "src"), *(str(p / "src") for p in sorted((ROOT / "plugins").glob("creature-*")))]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *sources], check=True, capture_output=True)


compile_sources()


def time_commands(argvs: list[list[str]], runs: int, env: dict | None = None) -> list[float]:
    """Median wall time of each argv over runs, run in turn (after a warm-up of each) so all see the same host load."""
    full_env = dict(os.environ, **(env or {}))
    for argv in argvs:
        subprocess.run(argv, capture_output=True, env=full_env, check=True)
    samples: list[list[float]] = [[] for _ in argvs]
    for _ in range(runs):
        for argv, found in zip(argvs, samples, strict=True):
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, env=full_env, check=True)
            found.append(time.perf_counter() - start)
    return [statistics.median(found) for found in samples]


def time_command(argv: list[str], runs: int, env: dict | None = None) -> float:
    """Median wall time of argv over runs (after one warm-up run)."""
    return time_commands([argv], runs, env)[0]


def quantity(value: float | None, unit: str = "s") -> str:
    """A row's value for the tables: seconds with 3 decimals, other units (MiB, processes) with fewer."""
    if value is None:
        return "-"
    return f"{value:.3f}s" if unit == "s" else f"{value:g} {unit}" if unit == "processes" else f"{value:.1f} {unit}"


def table_line(r: dict, width: int) -> str:
    """One row (operation, creature, raw, ratio, target) of bench/run's and report's table."""
    unit = r.get("unit", "s")
    ratio = f"{r['ratio']:.2f}" if r.get("ratio") is not None else "-"
    return (f"{r['operation']:<{width}} {quantity(r['creature'], unit):>10} {quantity(r.get('raw'), unit):>10} {ratio:>7}"
            f"  {r.get('target', '')}")


def report(bench: str, rows: list[dict], **extra) -> None:
    """Print rows (operation, creature, raw, ratio, target; unit "s" unless a row says) and write bench/results/BENCH.json."""
    print(f"{'operation':<44} {'creature':>10} {'raw tool':>10} {'ratio':>7}  target")
    for r in rows:
        print(table_line(r, 44))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{bench}.json").write_text(json.dumps({"bench": bench, "time": time.time(), "rows": rows, **extra}, indent=2))
