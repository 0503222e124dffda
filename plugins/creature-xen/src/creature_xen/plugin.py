"""Entry-point module of creature-xen: hook implementations only (the driver is imported when registered)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_register_drivers(register):
    from creature_xen.driver import XenDriver

    register(XenDriver)
