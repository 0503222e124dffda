"""Entry-point module of creature-lguest: hook implementations only (the driver is imported when registered)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_register_drivers(register):
    from creature_lguest.driver import LguestDriver

    register(LguestDriver)
