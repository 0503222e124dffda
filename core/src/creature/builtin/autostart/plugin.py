"""Built-in plugin: machines that start at `creature host up` in order, `host down`, and the boot service."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_add_commands(cli):
    from creature.builtin.autostart import commands

    cli.add_command(commands.autostart)
    host = cli.get_command(None, "host")
    for command in (commands.host_up, commands.host_down, commands.host_status, commands.host_install_service):
        host.add_command(command)
