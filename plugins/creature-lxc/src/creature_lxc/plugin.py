"""Entry-point module of creature-lxc: hook implementations only (drivers are registered by name and imported when used)."""

from creature.sdk import hookimpl


@hookimpl
def creature_register_drivers(register):
    # by name: the driver module is imported only when this driver is used (creature --help stays fast)
    register("creature_lxc.driver:LxcDriver", name="lxc", states="creature_lxc.states:states")

