"""`creature migrate` and `creature failover`: moving a machine between the nodes of a cluster."""

from __future__ import annotations

import click

from creature.cli import api

NODE = click.option("--node", metavar="NODE", help="Target node (default: the one the cluster chooses).")


def _moved(name: str, before: str | None, info) -> None:
    click.echo(f"machine {name} on {info.node or '-'} (was {before or '-'}), {info.state.value}")


@click.command("migrate")
@click.argument("name")
@NODE
@click.pass_context
def migrate(ctx, name, node):
    """Move running machine NAME to another node while it runs (live migration)."""
    from creature.builtin.cluster.moves import migrate

    creature = api(ctx)
    before = creature.info(name).node
    _moved(name, before, migrate(creature, name, node))


@click.command("failover")
@click.argument("name")
@NODE
@click.option("--timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds to wait for a graceful shutdown on the old node before forcing it.")
@click.pass_context
def failover(ctx, name, node, timeout):
    """Stop machine NAME and start it again on another node (for a node that must go down, or is down)."""
    from creature.builtin.cluster.moves import failover

    creature = api(ctx)
    before = creature.info(name).node
    _moved(name, before, failover(creature, name, node, timeout))
