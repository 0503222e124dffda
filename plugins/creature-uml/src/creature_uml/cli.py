"""`creature uml kernels` and `creature uml fetch-kernel`: which UML kernel runs here, and getting one that does."""

from __future__ import annotations

import click


def _home(ctx: click.Context):
    from creature.sdk import Home

    return Home((ctx.find_root().obj or {}).get("home"))


@click.group("uml")
def uml():
    """User Mode Linux: the kernels the uml driver can boot."""


@uml.command("kernels")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.option("--fresh", is_flag=True, help="Boot each kernel again instead of reading its cached verdict.")
@click.pass_context
def kernels_command(ctx, fmt, fresh):
    """Every candidate kernel, best first, with its verdict on this host (a real boot, cached) and which one is used."""
    from creature.sdk import emit

    from creature_uml import kernels

    found, named = kernels.candidates(_home(ctx))
    rows, chosen = [], None
    for kernel in found:
        judged = kernels.verdict(kernel, fresh=fresh)
        if chosen is None and (judged.ok or named):
            chosen = kernel
        rows.append({"path": str(kernel.path), "origin": kernel.origin, "release": judged.release,
                     "works": judged.ok, "used": kernel == chosen, "cached": judged.cached, "reason": judged.reason})
    emit(rows, ["used", "path", "release", "works", "origin"] + (["reason"] if fmt != "table" else []), fmt)
    if fmt == "table":
        for row in rows:
            if not row["works"]:
                click.echo(f"{row['path']}: {row['reason']}", err=True)
    if chosen is None:
        ctx.exit(1)


@uml.command("fetch-kernel")
@click.option("--suite", default="testing", show_default=True, help="The Debian suite to take user-mode-linux and libc6 from.")
@click.option("--mirror", help="Debian mirror URL (default: the one the host's apt uses).")
@click.option("--if-missing", is_flag=True, help="Do nothing (and use no network) when a fetched kernel is already cached.")
def fetch_kernel(suite, mirror, if_missing):
    """Fetch Debian's newer user-mode-linux (with its libc) into the shared cache, keyed by version, and boot it once."""
    import re

    from creature.sdk import InputError, status

    from creature_uml.fetch import fetch
    from creature_uml.kernels import verdict

    if not re.fullmatch(r"[a-z][a-z0-9.-]*", suite):
        raise InputError(f"invalid suite {suite!r}: give a Debian suite or codename (testing, unstable, forky)")
    kernel = fetch(suite=suite, mirror=mirror, if_missing=if_missing, say=status)
    click.echo(str(kernel.path))
    if not verdict(kernel).ok:
        raise click.ClickException(f"{kernel.path} does not run a user process on this host")
