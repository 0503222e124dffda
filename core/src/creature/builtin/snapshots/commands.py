"""`creature snapshot create|list|restore|rm`, `creature export` and `creature import`."""

from __future__ import annotations

import time

import click

from creature.cli import FORMAT, api


@click.group("snapshot")
def snapshot_group():
    """Snapshots of a machine: create, list, restore, rm."""


@snapshot_group.command("create")
@click.argument("name")
@click.argument("snap")
@click.option("--description", default="", help="A note kept with the snapshot.")
@click.pass_context
def snapshot_create(ctx, name, snap, description):
    """Snapshot machine NAME as SNAP (a running one where its driver can: see docs/snapshots.md)."""
    from creature.builtin.support.output import status

    made = api(ctx).snapshots.create(name, snap, description)
    status(f"snapshot {snap} of {name}: {_size(made.size)}{', with memory' if made.memory else ''}")


@snapshot_group.command("list")
@click.argument("name")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def snapshot_list(ctx, name, fmt):
    """The snapshots of machine NAME, oldest first: time, size, whether they hold memory."""
    from creature.builtin.support.output import emit

    rows = [dict(s.to_dict(), time=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.created)),
                 **({"size": _size(s.size)} if fmt == "table" else {})) for s in api(ctx).snapshots.list(name)]
    emit(rows, ["name", "time", "size", "memory", "running", "description"], fmt)


@snapshot_group.command("restore")
@click.argument("name")
@click.argument("snap")
@click.pass_context
def snapshot_restore(ctx, name, snap):
    """Put machine NAME back to SNAP (stopped for a disk snapshot; one with memory leaves it running from there)."""
    from creature.builtin.support.output import status

    restored = api(ctx).snapshots.restore(name, snap)
    status(f"{name} restored to {snap}" + (" (running from its memory)" if restored.memory else ""))


@snapshot_group.command("rm")
@click.argument("name")
@click.argument("snaps", nargs=-1, required=True)
@click.pass_context
def snapshot_rm(ctx, name, snaps):
    """Delete snapshots SNAPS of machine NAME (one unknown name deletes none)."""
    from creature.errors import NotFound

    known = {s.name for s in api(ctx).snapshots.list(name)}
    missing = [snap for snap in snaps if snap not in known]
    if missing:
        raise NotFound(f"machine {name!r} has no snapshot named {missing[0]!r} (see `creature snapshot list {name}`)")
    for snap in snaps:
        api(ctx).snapshots.remove(name, snap)


@click.command("export")
@click.argument("name")
@click.option("-o", "--output", required=True, help="The archive's file, or - for stdout.")
@click.option("--compression", type=click.Choice(["zstd", "gzip", "none"]), default="zstd", show_default=True)
@click.pass_context
def export(ctx, name, output, compression):
    """Write stopped machine NAME (spec, NICs, root flattened, checksums) to one archive."""
    from creature.builtin.support.output import status

    api(ctx).snapshots.export(name, output, compression)
    if output != "-":
        status(f"exported {name} to {output}")


@click.command("import")
@click.argument("archive")
@click.option("--name", "new_name", help="The machine's name here (default: its name in the archive).")
@click.option("--keep-macs", is_flag=True, help="Keep the archive's MACs and reserved addresses (default: new ones).")
@click.pass_context
def import_(ctx, archive, new_name, keep_macs):
    """Recreate the machine of ARCHIVE (a file, or - for stdin) in this home; a damaged archive imports nothing."""
    from creature.builtin.support.output import status

    info = api(ctx).snapshots.import_(archive, new_name, keep_macs)
    status(f"imported {info.name} ({info.driver}, template {info.template})")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
