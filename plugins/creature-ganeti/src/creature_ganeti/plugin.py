"""Entry-point module of creature-ganeti: hook implementations only (the driver is registered by name, imported when used)."""

from creature.sdk import hookimpl


@hookimpl
def creature_register_drivers(register):
    # by name: neither the driver module nor pydantic models of its options load unless a Ganeti cluster is used
    register("creature_ganeti.driver:GanetiDriver", name="ganeti")


@hookimpl
def creature_add_commands(cli):
    from creature_ganeti.cli import ganeti

    cli.add_command(ganeti)
