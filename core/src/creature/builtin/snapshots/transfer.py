"""The byte streams of export and import: compression (a zstd process, or gzip from the standard library),
an archive file that appears under its name only when whole, and a progress bar on a terminal only."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from creature.checkpoints import checkpoint
from creature.errors import CreatureError, InputError
from creature.procs import which

COMPRESSIONS = ("zstd", "gzip", "none")
ZSTD_MAGIC, GZIP_MAGIC = b"\x28\xb5\x2f\xfd", b"\x1f\x8b"


class Meter:
    """Bytes done out of total: a rich progress bar when stderr is a terminal, nothing otherwise."""

    def __init__(self, label: str, total: int | None):
        self.label, self.total, self.done = label, total, 0
        self._bar = self._task = None

    def __enter__(self) -> Meter:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                                 console=Console(stderr=True), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def advance(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()


def _zstd() -> str:
    path = which("zstd")
    if path is None:
        raise InputError("zstd is not installed (Debian package zstd): install it, or give --compression gzip")
    return path


@contextmanager
def open_output(output: str, compression: str):
    """A binary sink for the tar stream, compressed into output ('-': stdout); a file is renamed into place when whole."""
    if compression not in COMPRESSIONS:
        raise InputError(f"unknown compression {compression!r} (known: {', '.join(COMPRESSIONS)})")
    zstd = _zstd() if compression == "zstd" else None
    target = None if output == "-" else Path(output)
    if target is not None and target.is_dir():
        raise InputError(f"{target} is a folder: -o takes the archive's file name")
    partial = None if target is None else target.with_name(f".{target.name}.part-{os.getpid()}")
    raw = sys.stdout.buffer if target is None else os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
    proc = None
    try:
        if zstd is not None:
            raw.flush()
            proc = subprocess.Popen([zstd, "-q", "-3", "-T0", "-c"], stdin=subprocess.PIPE, stdout=raw.fileno())
            sink = proc.stdin
        elif compression == "gzip":
            sink = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3)
        else:
            sink = raw
        yield sink
        if sink is not raw:
            sink.close()
        if proc is not None and proc.wait() != 0:
            raise CreatureError(f"zstd failed (exit {proc.returncode}) writing {output}")
        raw.flush()
        if target is not None:
            os.fsync(raw.fileno())
            raw.close()
            checkpoint("export.written")
            os.rename(partial, target)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if target is not None:
            raw.close()
            if partial.exists():
                partial.unlink()


class Corrupt(InputError):
    """The archive is damaged, truncated or not creature's: nothing was imported."""


def _feed(source, sink) -> None:
    try:
        shutil.copyfileobj(source, sink, 1 << 20)
    except OSError:
        pass  # zstd stopped reading: its own error says why
    finally:
        sink.close()


class _Counting:
    """The compressed input, counted for the progress bar."""

    def __init__(self, f, meter: Meter):
        self.f, self.meter = f, meter

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        self.meter.advance(len(data))
        return data

    def readinto(self, buffer) -> int:
        n = self.f.readinto(buffer)
        self.meter.advance(n or 0)
        return n


@contextmanager
def open_input(source: str):
    """(tar byte stream, meter, finish) for an archive file or '-' (stdin), its compression told by its first bytes.

    finish() raises when the decompressor reported damage the tar reader did not see.
    """
    if source == "-":
        raw = sys.stdin.buffer
    else:
        try:
            raw = open(source, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"{source}: {exc.strerror}") from None
    total = os.fstat(raw.fileno()).st_size if source != "-" and Path(source).is_file() else None
    proc = None
    try:
        with Meter(f"importing {source}", total) as meter:
            head = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
            counted = _Counting(raw, meter)
            if head == ZSTD_MAGIC:
                proc = subprocess.Popen([_zstd(), "-d", "-q", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
                threading.Thread(target=_feed, args=(counted, proc.stdin), daemon=True).start()
                stream = proc.stdout
            elif head[:2] == GZIP_MAGIC:
                stream = gzip.GzipFile(fileobj=counted, mode="rb")
            else:
                stream = counted

            def finish():
                """The decompressor's verdict, once the tar reader is done: damage, or data after the archive's end."""
                junk = False
                while data := stream.read(1 << 20):
                    junk = junk or bool(data.strip(b"\0"))
                if proc is not None and proc.wait() != 0:
                    raise Corrupt(f"{source}: zstd: {proc.stderr.read().decode(errors='replace').strip()}")
                if junk:
                    raise Corrupt(f"{source}: data after the end of the archive")
            yield stream, meter, finish
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if source != "-":
            raw.close()
