"""Benchmark: `creature start` to the guest's first console line, against the same QEMU command run by hand.

Both runs use the same kernel, initramfs, template disk (each through its own fresh qcow2 overlay)
and the exact argv the driver plans; the ratio is creature / by hand (target: at most 1.05).
Run as root on a host where the qemu driver is usable:  python bench/qemu_boot.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def first_line_after(log: Path, started: float, timeout: float = 120) -> float:
    """Seconds from started until log holds a complete first line."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        try:
            if b"\n" in log.read_bytes()[:4096]:
                return time.monotonic() - started
        except FileNotFoundError:
            pass
        time.sleep(0.002)
    raise SystemExit(f"no console line in {log} within {timeout:g} s")


def kill_pidfile(pidfile: Path) -> None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        return
    while Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]:
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from creature.api import Creature

    home = Path(tempfile.mkdtemp(prefix="crb.", dir="/tmp"))
    env = dict(os.environ, CREATURE_HOME=str(home))
    creature = [sys.executable, "-m", "creature"]
    try:
        api = Creature(home)
        if not api.probe("qemu").usable:
            print(f"qemu_boot: skipped, the qemu driver is not usable here: {api.probe('qemu').reason}")
            return 0
        api.templates.build("bench", "busybox")
        api.create({"name": "b1", "driver": "qemu", "template": "bench", "memory": "128M"})
        machine = api.machine("b1")
        driver = api.driver("qemu")
        planned = driver.plan(machine, "start")[0]  # also fills the kernel/initramfs cache, outside the timing
        backing = machine.data["backing"]

        # by hand: the same argv, with every path of the machine's folder moved to a folder of its own
        raw_dir = home / "raw"
        raw_dir.mkdir(mode=0o700)
        raw_argv = [a.replace(str(machine.dir), str(raw_dir)) for a in planned]
        for fifo in ("agent.in", "agent.out"):  # the guest agent's channel: QEMU's pipe chardev opens FIFOs it does not make
            os.mkfifo(raw_dir / fifo, 0o600)

        ours, in_process, theirs = [], [], []
        for _ in range(args.runs):
            (machine.dir / "console.log").unlink(missing_ok=True)
            started = time.monotonic()
            subprocess.run([*creature, "start", "b1"], env=env, check=True)
            ours.append(first_line_after(machine.dir / "console.log", started))
            subprocess.run([*creature, "kill", "b1"], env=env, check=True)

            # the same through the Python API: the driver's own cost, without interpreter start-up
            (machine.dir / "console.log").unlink(missing_ok=True)
            warm = Creature(home)
            started = time.monotonic()
            warm.start("b1")
            in_process.append(first_line_after(machine.dir / "console.log", started))
            warm.kill("b1")
            warm.inventory.close()

            for name in ("console.log", "qemu.pid", "disk.qcow2", "qmp.sock", "console.sock"):
                (raw_dir / name).unlink(missing_ok=True)
            for initramfs in machine.dir.glob("initramfs-*.cpio"):  # the machine's own (hostname, keys), made by its start
                shutil.copyfile(initramfs, raw_dir / initramfs.name)
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", backing, str(raw_dir / "disk.qcow2")],
                           check=True)
            started = time.monotonic()
            subprocess.run(raw_argv, check=True)
            theirs.append(first_line_after(raw_dir / "console.log", started))
            kill_pidfile(raw_dir / "qemu.pid")

        mine, api_s, raw = statistics.median(ours), statistics.median(in_process), statistics.median(theirs)
        from benchlib import report  # bench/ is on sys.path when this script runs

        report("qemu_boot", [
            {"operation": "creature start -> first console line", "creature": mine, "raw": raw,
             "ratio": mine / raw, "target": "<= 1.05"},
            {"operation": "Creature.start() -> first console line", "creature": api_s, "raw": raw,
             "ratio": api_s / raw, "target": "<= 1.05"},
        ])
        return 0
    finally:
        subprocess.run([*creature, "kill", "--all"], env=env, capture_output=True)
        kill_pidfile(home / "raw" / "qemu.pid")
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
