"""Entry-point module of creature-vserver: hook implementations only (the driver is imported when registered)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_register_drivers(register):
    from creature_vserver.driver import VserverDriver

    register(VserverDriver)
