"""Built-in plugin: the machine, template and host commands of the command line (the kernel has none of its own)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_add_commands(cli):
    from creature.builtin import COMMANDS

    for name in COMMANDS:
        cli.get_command(None, name)  # the root imports each from the table, once
