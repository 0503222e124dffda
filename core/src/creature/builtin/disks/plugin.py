"""Built-in plugin: `creature resize` (creature.builtin.disks.resize does the work, the driver's resize_disk the growing)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_add_commands(cli):
    from creature.builtin.disks.commands import resize

    cli.add_command(resize)
