"""Entry-point module of creature-lxc: hook implementations only (the driver is imported when registered)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_register_drivers(register):
    from creature_lxc.driver import LxcDriver

    register(LxcDriver)
