"""Entry-point module of creature-vbox: hook implementations only (the driver is imported when registered)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_register_drivers(register):
    from creature_vbox.driver import VboxDriver

    register(VboxDriver)
