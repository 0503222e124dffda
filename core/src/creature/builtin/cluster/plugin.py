"""Built-in plugin: `creature migrate` and `creature failover` (creature.builtin.cluster.moves does the work)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_add_commands(cli):
    from creature.builtin.cluster.commands import failover, migrate

    cli.add_command(migrate)
    cli.add_command(failover)
