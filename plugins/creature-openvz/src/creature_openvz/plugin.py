"""Entry-point module of creature-openvz: hook implementations only (the driver is imported when registered)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_register_drivers(register):
    from creature_openvz.driver import OpenvzDriver

    register(OpenvzDriver)
