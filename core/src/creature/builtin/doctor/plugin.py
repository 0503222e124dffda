"""Built-in plugin: `creature doctor` (creature.builtin.doctor.repair does the work)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_add_commands(cli):
    from creature.builtin.doctor.commands import doctor

    cli.add_command(doctor)
