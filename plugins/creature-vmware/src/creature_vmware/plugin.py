"""Entry-point module of creature-vmware: hook implementations only (the driver is imported when registered)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_register_drivers(register):
    from creature_vmware.driver import VmwareDriver

    register(VmwareDriver)
