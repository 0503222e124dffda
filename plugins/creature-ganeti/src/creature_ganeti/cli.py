"""`creature ganeti ...`: what a cluster's nodes need from creature (its OS definition)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("ganeti")
def ganeti():
    """Ganeti clusters: the OS definition creature's instances are installed with."""


@ganeti.command("os-definition")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def os_definition(folder):
    """Write the `creature` OS definition into FOLDER (on every node: /srv/ganeti/os/creature)."""
    from creature_ganeti.os_definition import write

    for path in write(folder):
        click.echo(path)
