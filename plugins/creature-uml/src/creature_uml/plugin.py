"""Entry-point module of creature-uml: hook implementations only (the driver is imported when registered)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_register_drivers(register):
    """Register the User Mode Linux driver."""
    from creature_uml.driver import UmlDriver

    register(UmlDriver)
