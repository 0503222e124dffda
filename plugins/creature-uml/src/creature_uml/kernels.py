"""Which linux.uml the driver boots, and whether it really runs a user process on this host.

Debian 12's and 13's UML kernels boot on CPUs with AMX, then panic at the first user process: they hand
the host a smaller XSAVE area than such a CPU's, and the host's ptrace refuses it. A version number says
nothing about that, so each kernel is judged by booting it to a first user-space line (a busybox
initramfs), and the verdict is cached, keyed by the binary and by the host (its kernel and CPU flags).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from creature.sdk import CreatureError, Home, InputError, host_busybox, shared_cache, which, write_atomic
from creature.sdk import cpio_archive as archive

from creature_uml.tmpdir import exec_tmpdir

SETTING = "CREATURE_UML_KERNEL"
PROBE_LINE = "creature-uml-probe: user space runs"
PROBE_MEMORY = "128M"  # Debian's 6.1 kernel runs out of memory before init below ~64M
PROBE_TIMEOUT = 30
FORMAT = 1  # of a cached verdict: a new one judges every kernel again
XSAVE_PANIC = "ptrace set fp regs failed"
FIX = ("a newer UML kernel: `creature uml fetch-kernel` puts Debian testing's user-mode-linux in the shared cache"
       f" (make install does this), or point {SETTING} (or `kernel` under [uml] in the home's config.toml) at one")

_PROBE_INIT = f"""\
#!/bin/busybox sh
/bin/busybox echo {PROBE_LINE}
/bin/busybox poweroff -f
"""


@dataclass(frozen=True)
class Kernel:
    """A linux.uml binary and what chose it (the setting, the fetched cache, or PATH)."""

    path: Path
    origin: str

    @property
    def modules(self) -> Path | None:
        """The folder holding its module trees (RELEASE/kernel/...), if it has any."""
        fetched = self.path.parent / "modules"
        if fetched.is_dir():
            return fetched
        # Debian's user-mode-linux package: /usr/bin/linux.uml, /usr/lib/uml/modules/RELEASE
        packaged = self.path.resolve().parent.parent / "lib" / "uml" / "modules"
        return packaged if packaged.is_dir() else None


@dataclass
class Verdict:
    """What booting a kernel here showed: ok, its release, and the reason (with the fix when it failed)."""

    ok: bool
    release: str
    reason: str
    seconds: float = 0.0
    cached: bool = False


def uml_cache() -> Path:
    """shared_cache()/uml: the driver's initramfs images, fetched kernels and verdicts (private to its owner)."""
    path = shared_cache() / "uml"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def fetched_root() -> Path:
    """Where `creature uml fetch-kernel` keeps kernels, one folder per Debian package version."""
    return uml_cache() / "kernels"


def _version_key(name: str) -> list:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part]


def fetched_kernels() -> list[Kernel]:
    """Fetched kernels, newest package version first."""
    root = fetched_root()
    try:
        folders = [p for p in root.iterdir() if not p.name.startswith(".") and (p / "linux.uml").is_file()]
    except OSError:
        return []
    folders.sort(key=lambda p: _version_key(p.name), reverse=True)
    return [Kernel(p / "linux.uml", f"fetched: {_describe_source(p)}") for p in folders]


def _describe_source(folder: Path) -> str:
    try:
        source = json.loads((folder / "source.json").read_text())
        return f"Debian {source['suite']} user-mode-linux {source['version']}"
    except (OSError, ValueError, KeyError):
        return f"user-mode-linux {folder.name}"


def setting(home: Home) -> tuple[str, str] | None:
    """The kernel the operator chose (CREATURE_UML_KERNEL, else [uml] kernel in the home's config) and where it was set."""
    env = os.environ.get(SETTING)
    if env:
        return env, SETTING
    chosen = home.config().get("uml", {}).get("kernel")
    if chosen:
        return str(chosen), f"[uml] kernel in {home.root / 'config.toml'}"
    return None


def candidates(home: Home) -> tuple[list[Kernel], bool]:
    """The kernels to try, best first, and whether the operator named one (then it is the only candidate)."""
    chosen = setting(home)
    if chosen is not None:
        value, origin = chosen
        path = Path(value) if "/" in value else Path(which(value) or value)
        if not path.is_file() or not os.access(path, os.X_OK):
            raise InputError(f"{origin} names {value!r}, which is not an executable file")
        return [Kernel(path.absolute(), origin)], True
    found = fetched_kernels()
    packaged = which("linux.uml")
    if packaged:
        found.append(Kernel(Path(packaged), "PATH (Debian package user-mode-linux)"))
    return found, False


def _host_key() -> list:
    from creature.sdk import HostFacts

    facts = HostFacts()
    return [facts.kernel_release, sorted(facts.cpu_flags)]


def _verdict_path(kernel: Kernel) -> Path:
    st = kernel.path.stat()
    ident = json.dumps([FORMAT, str(kernel.path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, _host_key()])
    return uml_cache() / "verdicts" / f"{hashlib.sha256(ident.encode()).hexdigest()[:20]}.json"


def verdict(kernel: Kernel, fresh: bool = False) -> Verdict:
    """The cached verdict for kernel on this host, else one from a real boot (cached unless it was inconclusive)."""
    path = _verdict_path(kernel)
    if not fresh:
        try:
            return Verdict(**json.loads(path.read_text()) | {"cached": True})
        except (OSError, ValueError, TypeError):
            pass
    found, conclusive = _boot(kernel)
    if conclusive:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, json.dumps(asdict(found) | {"cached": False}).encode())
    return found


def _release(kernel: Kernel) -> str:
    try:
        proc = subprocess.run([str(kernel.path), "--version"], capture_output=True, text=True, timeout=10,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CreatureError(f"{kernel.path} --version did not run: {exc}") from None
    if proc.returncode != 0 or not proc.stdout.strip():
        # a fetched kernel whose private libc went missing says so here (the loader's message)
        raise CreatureError(f"{kernel.path} --version exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout.strip().splitlines()[0]


def _probe_initramfs() -> Path:
    """A tiny initramfs whose /init prints PROBE_LINE and powers off (host busybox), cached by its content."""
    data = archive([("dev", stat.S_IFDIR | 0o755, b""), ("bin", stat.S_IFDIR | 0o755, b""),
                    ("dev/console", stat.S_IFCHR | 0o600, b""),
                    ("bin/busybox", stat.S_IFREG | 0o755, host_busybox().read_bytes()),
                    ("init", stat.S_IFREG | 0o755, _PROBE_INIT.encode())])
    path = uml_cache() / f"probe-{hashlib.sha256(data).hexdigest()[:12]}.cpio"
    if not path.exists():
        write_atomic(path, data)
    return path


def _boot(kernel: Kernel) -> tuple[Verdict, bool]:
    """Boot kernel to a first user-space line; (verdict, conclusive): a timeout may be a busy host, never cached."""
    try:
        release = _release(kernel)
    except CreatureError as exc:
        return Verdict(False, "", f"{kernel.path} ({kernel.origin}): {exc}"), False
    where = f"{kernel.path} ({kernel.origin}, UML {release})"
    tmpdir, rejected = exec_tmpdir()
    if tmpdir is None:
        return Verdict(False, release, f"{where}: not tried, no folder allows executable mappings: {'; '.join(rejected)}"), False
    try:
        initrd = _probe_initramfs()
    except CreatureError as exc:
        return Verdict(False, release, f"{where}: not tried: {exc}"), False
    with tempfile.TemporaryDirectory(prefix="creature-uml-probe.") as scratch:
        argv = [str(kernel.path), f"mem={PROBE_MEMORY}", f"initrd={initrd}", f"uml_dir={scratch}", "umid=probe",
                "con=null", "con0=null,fd:1", "ssl=null", f"hostfs={scratch}/none", "quiet"]
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, env=os.environ | {"TMPDIR": tmpdir}, cwd=scratch)
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=PROBE_TIMEOUT)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            out, _ = proc.communicate()
        finally:
            # UML forks a host process per guest address space: none of this probe's may outlive it
            _kill_group(proc.pid)
        seconds = time.monotonic() - started
    text = out.decode(errors="replace")
    if PROBE_LINE in text:
        return Verdict(True, release, f"{where} ran a user process here ({seconds:.1f} s boot)", seconds), True
    tail = " | ".join(line.strip() for line in text.splitlines()[-4:] if line.strip())
    if XSAVE_PANIC in text:
        from creature.sdk import HostFacts

        amx = sorted(f for f in HostFacts().cpu_flags if f.startswith("amx"))
        cpu = f"this CPU's (it has AMX: {', '.join(amx)})" if amx else "this CPU's"
        reason = (f"{where} panics at its first user process on this host (\"ptrace set fp regs failed, errno = 14\"):"
                  f" it hands the host an XSAVE area smaller than {cpu}. Fix: {FIX}")
        return Verdict(False, release, reason, seconds), True
    if timed_out:
        return Verdict(False, release, f"{where} printed no user-space line within {PROBE_TIMEOUT} s: {tail}", seconds), False
    return Verdict(False, release, f"{where} exited {proc.returncode} before any user process ran: {tail}. Fix: {FIX}",
                   seconds), True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def choose(home: Home) -> tuple[Kernel | None, Verdict | None, list[tuple[Kernel, Verdict]]]:
    """The kernel to boot (the named one, else the first candidate that works here), its verdict, and every verdict tried."""
    found, named = candidates(home)
    tried = []
    for kernel in found:
        judged = verdict(kernel)
        tried.append((kernel, judged))
        if judged.ok or named:
            return kernel, judged, tried
    return None, None, tried
