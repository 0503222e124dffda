"""Entry-point module of creature-qemu: hook implementations only (the drivers are imported when registered)."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_register_drivers(register):
    """Register the qemu (TCG) and kvm drivers."""
    from creature_qemu.driver import KvmDriver, QemuDriver

    register(QemuDriver)
    register(KvmDriver)
