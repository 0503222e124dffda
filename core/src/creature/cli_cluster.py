"""`creature migrate` and `creature failover`: moving a machine between the nodes of a cluster (drivers with those capabilities)."""

from __future__ import annotations

import click


def _api(ctx: click.Context):
    from creature.cli import api

    return api(ctx)


def _moved(name: str, before: str | None, info) -> None:
    click.echo(f"machine {name} on {info.node or '-'} (was {before or '-'}), {info.state.value}")


@click.command("migrate")
@click.argument("name")
@click.option("--node", metavar="NODE", help="Target node (default: the one the cluster chooses).")
@click.pass_context
def migrate(ctx, name, node):
    """Move running machine NAME to another node while it runs (live migration)."""
    creature = _api(ctx)
    before = creature.info(name).node
    _moved(name, before, creature.migrate(name, node))


@click.command("failover")
@click.argument("name")
@click.option("--node", metavar="NODE", help="Target node (default: the one the cluster chooses).")
@click.option("--timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds to wait for a graceful shutdown on the old node before forcing it.")
@click.pass_context
def failover(ctx, name, node, timeout):
    """Stop machine NAME and start it again on another node (for a node that must go down, or is down)."""
    creature = _api(ctx)
    before = creature.info(name).node
    _moved(name, before, creature.failover(name, node, timeout))
