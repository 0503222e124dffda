"""`creature resize NAME --disk SIZE`."""

from __future__ import annotations

import click


@click.command()
@click.argument("name")
@click.option("--disk", required=True, metavar="SIZE", help="The new size of its disk, like 2G (it only grows).")
@click.pass_context
def resize(ctx, name, disk):
    """Grow a stopped machine's disk (a VM's virtual disk, a container's writable layer) and its filesystem."""
    from creature.cli import api

    info = api(ctx).resize_disk(name, disk)
    click.echo(f"machine {info.name}: disk {info.disk} MiB")
