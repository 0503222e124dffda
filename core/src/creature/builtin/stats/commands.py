"""`creature stats [NAME...]`: usage of running machines, once or every --watch seconds."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from creature.errors import InputError


def _writer(output: Path | None, fmt: str, watching: bool):
    """Where each reading goes: the output file, replaced whole (keeping its mode), or stdout (a terminal's table redrawn)."""
    if output is not None:
        from creature.home import write_atomic

        def write(text: str) -> None:
            try:
                mode = os.stat(output).st_mode & 0o777
            except OSError:
                mode = 0o600
            write_atomic(output, text.encode(), mode)
        return write
    redraw = watching and fmt == "table" and sys.stdout.isatty()

    def echo(text: str) -> None:
        sys.stdout.write(("\x1b[H\x1b[J" if redraw else "") + text)
        sys.stdout.flush()
    return echo


@click.command()
@click.argument("names", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "prometheus"]), default="table")
@click.option("--interval", type=click.FloatRange(min=0), help="Seconds between the two readings CPU percent is measured over"
              " (default 1; 0: one reading, no percent).")
@click.option("--watch", type=click.FloatRange(min=0.1), metavar="SECONDS", help="Read again every SECONDS until interrupted;"
              " CPU percent is over each period.")
@click.option("--count", type=click.IntRange(min=1), help="With --watch: stop after this many readings.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write each reading to this file, replacing it"
              " whole (for node_exporter's textfile collector), instead of stdout.")
@click.pass_context
def stats(ctx, names, fmt, interval, watch, count, output):
    """CPU, memory, disk and network usage of running machines (all, or NAMEs), read from the host."""
    from creature.builtin.stats.collect import collect, rows, running, sample
    from creature.builtin.stats.formats import render
    from creature.cli import api

    if watch is not None and interval is not None:
        raise InputError("--interval and --watch do not go together: with --watch, CPU percent is measured over each period")
    if count is not None and watch is None:
        raise InputError("--count needs --watch")
    if output is not None and not output.parent.is_dir():
        raise InputError(f"--output {str(output)!r}: folder {str(output.parent)!r} does not exist")
    creature, names = api(ctx), list(names) or None
    write = _writer(output, fmt, watch is not None)
    if watch is None:
        write(render(collect(creature, names, 1.0 if interval is None else interval), fmt))
        return 0
    before, done = sample(creature, running(creature, names)), 0
    try:
        while count is None or done < count:
            time.sleep(watch)
            now = sample(creature, running(creature, names))
            write(render(rows(now, before), fmt, compact=output is None))
            before, done = now, done + 1
    except KeyboardInterrupt:
        pass  # the way out of watching
    return 0
