"""Built-in plugin: `creature snapshot`, `creature export` and `creature import` (snapshots.py and archive.py do the work)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_add_commands(cli):
    from creature.builtin.snapshots import commands

    for command in (commands.snapshot_group, commands.export, commands.import_):
        cli.add_command(command)
