"""Built-in plugin: `creature ssh` (creature.builtin.ssh.client does the work)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_add_commands(cli):
    from creature.builtin.ssh.commands import ssh

    cli.add_command(ssh)
