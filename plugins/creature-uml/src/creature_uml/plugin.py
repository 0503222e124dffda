"""Entry-point module of creature-uml: hook implementations only (drivers are registered by name and imported when used)."""

from creature.sdk import hookimpl


@hookimpl
def creature_register_drivers(register):
    # by name: the driver module is imported only when this driver is used (creature --help stays fast)
    register("creature_uml.driver:UmlDriver", name="uml", states="creature_uml.states:states")


@hookimpl
def creature_add_commands(cli):
    from creature_uml.cli import uml

    cli.add_command(uml)
