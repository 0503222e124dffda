"""The core's own hook implementations: the busybox, debootstrap and tarball bootstrap methods.

Imported at every start-up, so the methods' modules are imported only when registered.
"""

from creature.hookspecs import hookimpl


@hookimpl
def creature_register_bootstrappers(register):
    from creature.busybox import BusyboxBootstrapper
    from creature.debootstrap import DebootstrapBootstrapper
    from creature.rootfs_tarball import TarballBootstrapper

    register(BusyboxBootstrapper)
    register(DebootstrapBootstrapper)
    register(TarballBootstrapper)
