"""Built-in plugin: `creature stats` (creature.builtin.stats.collect samples each driver's stats(), formats prints them)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_add_commands(cli):
    from creature.builtin.stats.commands import stats

    cli.add_command(stats)
