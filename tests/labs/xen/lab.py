"""The Xen lab runner: build the lab (cached), stage a run folder, boot Xen + dom0 under QEMU TCG, collect results.

Used by test_xen_lab.py and runnable by hand: `python3 tests/labs/xen/lab.py [--boot-only]`.

The run folder is shared with dom0 over virtio 9p (tag "lab"): the host puts into it creature's
core and creature-xen installed from wheels built from this checkout (with their dependencies,
whose wheels are cached), the dom0 scripts and the conformance module; dom0 writes out/ back.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from cached_build import cached_build  # noqa: E402 (tests/labs, beside this lab)

REPO = HERE.parents[2]
CACHE = Path(os.environ.get("XEN_LAB_CACHE", "/var/cache/creature/xen-lab"))
DISTRIBUTIONS = [REPO / "core", REPO / "plugins" / "creature-xen"]
DOM0_FILES = ["dom0-main.sh", "dom0-suite.sh", "conformance_xen.py", "block-lean"]
# what QEMU emulates: notes/xen-lab.md (-smap: QEMU's emulated SMAP crashes the PV dom0 at once)
QEMU_MEMORY = "2048"
# spec-ctrl=eager-fpu: Xen switches vector register state lazily by default on an AMD CPU (what TCG's "max" claims
# to be); under QEMU 7.2's TCG that lost dom0 processes' AVX registers while a domU ran (a segfaulting `creature`,
# xl misreading /etc/xen/xl.conf, ps aborting). Eager switching restores them on every switch (docs/xen-lab.md).
XEN_CMDLINE = ("dom0_mem=768M,max:768M console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all noreboot"
               " spec-ctrl=eager-fpu")
DOM0_CMDLINE = "root=/dev/vda init=/sbin/xen-lab-init console=hvc0 earlyprintk=xen"
XL_INFO_MARKER = "XEN-LAB: xl info ok"
SUITE_START_MARKER = "XEN-LAB: suite starting"
SUITE_END_MARKER = "XEN-LAB: suite exited"
# dom0's kernel reporting a crashed process (its messages reach the serial log through hvc0)
DOM0_CRASH = re.compile(r"\]: segfault at |traps: \S+\[\d+\] (general protection|trap)")


class LabError(Exception):
    """The lab could not be built or staged (before anything booted)."""


@dataclass
class LabRun:
    """What one lab run did: timings in seconds (None when that point was never reached) and where its files are."""

    run_dir: Path
    serial_log: Path
    build_seconds: float = 0.0
    stage_seconds: float = 0.0
    boot_to_xl_info: float | None = None
    suite_seconds: float | None = None
    total_seconds: float = 0.0
    qemu_exit: int | None = None
    timed_out: bool = False
    suite_rc: int | None = None
    notes: list[str] = field(default_factory=list)

    def serial_tail(self, lines: int = 60) -> str:
        try:
            text = self.serial_log.read_text(errors="replace")
        except OSError as exc:
            return f"(no serial log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def dom0_crashes(self) -> list[str]:
        """Lines in which dom0's kernel reported a crashed process: a lab that corrupts memory fails even if the suite passed."""
        try:
            text = self.serial_log.read_text(errors="replace")
        except OSError:
            return []
        return [line.strip() for line in text.splitlines() if DOM0_CRASH.search(line)]

    def out(self, name: str) -> Path:
        return self.run_dir / "out" / name

    def timings(self) -> str:
        def fmt(v):
            return "not reached" if v is None else f"{v:.1f} s"
        return (f"lab build {self.build_seconds:.1f} s, staging {self.stage_seconds:.1f} s, "
                f"boot to `xl info` {fmt(self.boot_to_xl_info)}, suite {fmt(self.suite_seconds)}, "
                f"whole run {self.total_seconds:.1f} s")


def build_lab(log: Path) -> Path:
    """Run build-lab.sh (a no-op when the cache holds this lab) and return the lab folder."""
    return cached_build(HERE / "build-lab.sh", log, LabError)


def requirements() -> list[str]:
    """The third-party requirements of the distributions dom0 installs, plus pytest to run the suite."""
    def name(req: str) -> str:
        return re.match(r"[A-Za-z0-9._-]+", req).group(0).lower().replace("_", "-")

    projects = [tomllib.loads((d / "pyproject.toml").read_text())["project"] for d in DISTRIBUTIONS]
    ours = {name(p["name"]) for p in projects}
    reqs = {"pytest>=8"} | {r for p in projects for r in p.get("dependencies", []) if name(r) not in ours}
    return sorted(reqs)


def dependency_wheels(log: Path) -> Path:
    """Wheels of the requirements for dom0's Python (Debian 12's 3.11, x86_64), downloaded once per requirement set."""
    reqs = requirements()
    key = hashlib.sha256("\n".join(reqs).encode()).hexdigest()[:12]
    folder = CACHE / f"wheels-cp311-{key}"
    if (folder / "READY").is_file():
        return folder
    partial = Path(tempfile.mkdtemp(prefix=".wheels.", dir=CACHE))
    try:
        # --retries 0: where the configured indexes are local mirrors, pip's back-off on an unreachable
        # default index costs minutes and gains nothing
        pip(["download", "-q", "--retries", "0", "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
             "--platform", "manylinux2014_x86_64", "--platform", "linux_x86_64", "-d", str(partial), *reqs], log)
        (partial / "READY").write_text("\n".join(reqs) + "\n")
        if folder.exists():  # another run finished first: keep its copy
            shutil.rmtree(partial)
        else:
            partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder


def pip(argv: list[str], log: Path) -> None:
    """Run pip with its chatter in log; a failure raises LabError with the log's tail."""
    with open(log, "a") as out:
        proc = subprocess.run([sys.executable, "-m", "pip", *argv], stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT, timeout=600)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise LabError(f"pip {argv[0]} exited {proc.returncode}:\n{tail}")


def stage(run_dir: Path) -> None:
    """Fill the run folder: site/ (creature + creature-xen from this checkout, and their dependencies), dom0's files."""
    CACHE.mkdir(parents=True, exist_ok=True)
    log = run_dir / "stage.log"
    deps = dependency_wheels(log)
    wheels = run_dir / "wheels"
    # built from clean copies: setuptools reuses a project's build/ folder, where modules deleted
    # from src/ live on and would reach dom0
    sources = []
    for d in DISTRIBUTIONS:
        copy = run_dir / "src" / d.name
        shutil.copytree(d, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
        sources.append(str(copy))
    # --no-build-isolation: setuptools comes from this environment, so building needs no download
    pip(["wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), *sources], log)
    names = [tomllib.loads((d / "pyproject.toml").read_text())["project"]["name"] for d in DISTRIBUTIONS]
    # installed on the host into a folder dom0 puts on PYTHONPATH: dist-info (entry points) included,
    # bytecode compiled here, not under emulation
    pip(["install", "-q", "--no-index", "--find-links", str(wheels), "--find-links", str(deps),
         "--target", str(run_dir / "site"), *names, "pytest"], log)
    for name in DOM0_FILES:
        shutil.copy2(HERE / name, run_dir / name)
    (run_dir / "out").mkdir()


def qemu_argv(lab: Path, run_dir: Path, serial_log: Path) -> list[str]:
    return [
        "qemu-system-x86_64", "-accel", "tcg", "-machine", "q35", "-cpu", "max,-smap", "-m", QEMU_MEMORY, "-smp", "2",
        "-display", "none", "-monitor", "none", "-nic", "none", "-no-reboot",
        "-serial", f"file:{serial_log}",
        "-kernel", str(lab / "xen"), "-append", XEN_CMDLINE,
        # multiboot modules: dom0's kernel with its command line, then its initramfs
        "-initrd", f"{lab / 'vmlinuz'} {DOM0_CMDLINE},{lab / 'initrd.img'}",
        # snapshot=on: dom0's writes go to a temporary overlay, the cached image stays pristine
        "-drive", f"file={lab / 'dom0.img'},format=raw,if=virtio,snapshot=on",
        "-virtfs", f"local,path={run_dir},mount_tag=lab,security_model=none,id=lab",
    ]


def boot(lab: Path, run: LabRun, timeout: float) -> None:
    """Boot the lab and wait until dom0 powers it off (or timeout, when our QEMU is killed); fill run's timings."""
    start = time.monotonic()
    with open(run.run_dir / "qemu.log", "w") as qlog:
        qemu = subprocess.Popen(qemu_argv(lab, run.run_dir, run.serial_log), stdin=subprocess.DEVNULL,
                                stdout=qlog, stderr=subprocess.STDOUT)
    suite_start = None
    try:
        while True:
            text = run.serial_log.read_text(errors="replace") if run.serial_log.exists() else ""
            now = time.monotonic()
            if run.boot_to_xl_info is None and XL_INFO_MARKER in text:
                run.boot_to_xl_info = now - start
            if suite_start is None and SUITE_START_MARKER in text:
                suite_start = now
            if suite_start is not None and run.suite_seconds is None and SUITE_END_MARKER in text:
                run.suite_seconds = now - suite_start
            if qemu.poll() is not None:
                break
            if now - start > timeout:
                run.timed_out = True
                run.notes.append(f"the lab did not power off within {timeout:g} s: killed its QEMU")
                break
            time.sleep(0.5)
    finally:
        if qemu.poll() is None:
            qemu.kill()  # only ever the QEMU this function started
        run.qemu_exit = qemu.wait()
    if suite_start is not None and run.suite_seconds is None:
        run.suite_seconds = time.monotonic() - suite_start
    rc_file = run.out("suite.rc")
    if rc_file.is_file():
        run.suite_rc = int(rc_file.read_text().strip())


def run_lab(run_dir: Path, *, suite: bool = True, timeout: float = 900, pytest_args: list[str] = ()) -> LabRun:
    """Build (cached), stage and boot the lab in run_dir (an empty folder); the caller keeps or removes run_dir."""
    run = LabRun(run_dir=run_dir, serial_log=run_dir / "serial.log")
    t0 = time.monotonic()
    lab = build_lab(run_dir / "build.log")
    run.build_seconds = time.monotonic() - t0
    t1 = time.monotonic()
    stage(run_dir)
    if not suite:
        (run_dir / "dom0-suite.sh").unlink()
    if pytest_args:
        (run_dir / "pytest.args").write_text("".join(f"{a}\n" for a in pytest_args))
    run.stage_seconds = time.monotonic() - t1
    boot(lab, run, timeout)
    run.total_seconds = time.monotonic() - t0
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boot-only", action="store_true", help="boot to `xl info` and power off; no conformance suite")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (serial log, suite log, junit)")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("pytest_args", nargs="*", help="more arguments for pytest in dom0 (after --), e.g. -- -x -k api")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="xen-lab-run."))
    try:
        run = run_lab(run_dir, suite=not args.boot_only, timeout=args.timeout, pytest_args=args.pytest_args)
        print(run.timings())
        suite_log = run.out("suite.log")
        if suite_log.is_file():
            print("\n".join(suite_log.read_text(errors="replace").splitlines()[-40:]))
        ok = run.boot_to_xl_info is not None and (args.boot_only or run.suite_rc == 0)
        if not ok:
            print("serial log tail:\n" + run.serial_tail(), file=sys.stderr)
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"run folder kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
