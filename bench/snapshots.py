#!/usr/bin/env python3
"""Snapshot create and restore of a ~300 MB machine against the raw tool doing the same, and export throughput.

- LXC: the machine's overlay holds ~300 MB (copies of the host's /usr/lib files, so the data compresses like a real
  system's); creature's snapshot is a copy of it, the raw tool `cp -a --reflink=auto` of the same folder; restore
  against `cp -a` back plus a rename.
- QEMU: 300 MB written into the machine's qcow2 with qemu-io; creature's snapshot against `qemu-img snapshot -c`,
  restore against `qemu-img snapshot -a`.
- Export of the LXC machine in MB/s of its files, against `tar -c | zstd -3 -T0` of the same files (template rootfs
  and the machine's overlay), both written to /var/tmp and synced (creature fsyncs an archive before naming it).

Every creature figure is the `creature` command line, Python start-up included; runs alternate with the raw tool.
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

RUNS = 5
SIZE_MB = 300


def timed(argv: list[str], **kwargs) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - started


def fill(folder: Path, megabytes: int) -> int:
    """Copy host library files into folder until it holds megabytes; return the bytes copied."""
    total, target = 0, megabytes * 1024 * 1024
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path("/usr/lib").rglob("*")):
        if total >= target:
            break
        if path.is_file() and not path.is_symlink():
            size = path.stat().st_size
            if 0 < size < 64 * 1024 * 1024:
                dest = folder / f"{total:012d}-{path.name}"
                shutil.copyfile(path, dest)
                total += size
    return total


def lxc_rows(creature: list[str], home: Path, work: Path) -> list[dict]:
    run = lambda *a: subprocess.run([*creature, *a], check=True, capture_output=True)  # noqa: E731
    run("template", "build", "bb", "--method", "busybox")
    run("create", "big", "--driver", "lxc", "--template", "bb")
    delta = home / "machines" / "big" / "delta"
    size = fill(delta / "opt" / "ballast", SIZE_MB)
    mb = size / 1e6
    create, raw_create, restore, raw_restore = [], [], [], []
    for i in range(RUNS + 1):
        c = timed([*creature, "snapshot", "create", "big", f"s{i}"])
        r = timed(["cp", "-a", "--reflink=auto", "--sparse=always", str(delta), str(work / f"raw{i}")])
        rc = timed([*creature, "snapshot", "restore", "big", f"s{i}"])
        # the same by hand: a copy beside the folder, then renamed over it (the old one removed after)
        rr = timed(["sh", "-c", f'cp -a --reflink=auto "{work}/raw{i}" "{delta}.new" && mv "{delta}" "{delta}.old" && '
                                f'mv "{delta}.new" "{delta}" && rm -rf "{delta}.old"'])
        run("snapshot", "rm", "big", f"s{i}")
        shutil.rmtree(work / f"raw{i}")
        if i:  # the first round warms the page cache
            create.append(c), raw_create.append(r), restore.append(rc), raw_restore.append(rr)
    rows = [_row(f"lxc snapshot create, {mb:.0f} MB overlay", create, raw_create, "cp -a --reflink=auto"),
            _row(f"lxc snapshot restore, {mb:.0f} MB overlay", restore, raw_restore, "cp -a + mv")]
    template = home / "templates" / "bb"
    tree = size + sum(p.stat().st_size for p in template.rglob("*") if p.is_file() and not p.is_symlink())
    ours, raw = [], []
    for _ in range(RUNS):
        ours.append(timed([*creature, "export", "big", "-o", str(work / "big.tar.zst")]))
        raw.append(timed(["sh", "-c", f'tar -C "{template}" -cf - rootfs -C "{delta.parent}" delta | zstd -q -3 -T0 -c '
                                      f'> "{work}/raw.tar.zst" && sync "{work}/raw.tar.zst"']))
        (work / "big.tar.zst").unlink()
    o, r = statistics.median(ours), statistics.median(raw)
    rows.append({"operation": f"export {tree / 1e6:.0f} MB: {tree / 1e6 / o:.0f} vs {tree / 1e6 / r:.0f} MB/s", "creature": o,
                 "raw": r, "ratio": o / r, "target": "vs tar | zstd -3 -T0 (+ sync); MB/s of the machine's files"})
    return rows


def api_rows(home: Path) -> list[dict]:
    """The same snapshot operations through the Python API: what creature adds without the CLI's start-up."""
    from creature.api import Creature

    api = Creature(home)
    rows = []
    for machine, size in (("big", "340 MB overlay"), ("vm", f"{SIZE_MB} MB in the qcow2")):
        create, restore = [], []
        for i in range(RUNS + 1):
            started = time.perf_counter()
            api.snapshots.create(machine, f"api{i}")
            middle = time.perf_counter()
            api.snapshots.restore(machine, f"api{i}")
            if i:
                create.append(middle - started)
                restore.append(time.perf_counter() - middle)
            api.snapshots.remove(machine, f"api{i}")
        rows += [{"operation": f"{machine} snapshot create (API), {size}", "creature": statistics.median(create)},
                 {"operation": f"{machine} snapshot restore (API), {size}", "creature": statistics.median(restore)}]
    api.inventory.close()
    return rows


def qemu_rows(creature: list[str], home: Path) -> list[dict]:
    subprocess.run([*creature, "create", "vm", "--driver", "qemu", "--template", "bb"], check=True, capture_output=True)
    disk = home / "machines" / "vm" / "disk.qcow2"
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x5a 0 {SIZE_MB}M", str(disk)], check=True, capture_output=True)
    create, raw_create, restore, raw_restore = [], [], [], []
    for i in range(RUNS + 1):
        c = timed([*creature, "snapshot", "create", "vm", f"s{i}"])
        r = timed(["qemu-img", "snapshot", "-c", f"raw{i}", str(disk)])
        rc = timed([*creature, "snapshot", "restore", "vm", f"s{i}"])
        rr = timed(["qemu-img", "snapshot", "-a", f"raw{i}", str(disk)])
        if i:
            create.append(c), raw_create.append(r), restore.append(rc), raw_restore.append(rr)
    return [_row(f"qemu snapshot create, {SIZE_MB} MB in the qcow2", create, raw_create, "qemu-img snapshot -c"),
            _row(f"qemu snapshot restore, {SIZE_MB} MB in the qcow2", restore, raw_restore, "qemu-img snapshot -a")]


def _row(operation: str, ours: list[float], raw: list[float], tool: str) -> dict:
    o, r = statistics.median(ours), statistics.median(raw)
    return {"operation": operation, "creature": o, "raw": r, "ratio": o / r, "target": f"vs {tool} (CLI start-up included)"}


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="crb.", dir="/tmp"))
    work = Path(tempfile.mkdtemp(prefix="crb-snap.", dir="/var/tmp"))
    creature = [str(VENV_BIN / "creature"), "--home", str(home)]
    try:
        rows = lxc_rows(creature, home, work) + qemu_rows(creature, home)
        rows += api_rows(home)
    finally:
        from creature.testing_cleanup import cleanup_home

        cleanup_home(home)
        shutil.rmtree(work, ignore_errors=True)
    report("snapshots", rows)


if __name__ == "__main__":
    os.environ.setdefault("CREATURE_STRICT_PLUGINS", "1")
    main()
