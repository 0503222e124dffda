"""Built-in plugin: the template methods busybox, debootstrap and tarball."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_register_bootstrappers(register):
    # the methods' modules are imported only when registered (template commands), not at every start-up
    from creature.builtin.bootstrap.busybox import BusyboxBootstrapper
    from creature.builtin.bootstrap.debootstrap import DebootstrapBootstrapper
    from creature.builtin.bootstrap.tarball import TarballBootstrapper

    register(BusyboxBootstrapper)
    register(DebootstrapBootstrapper)
    register(TarballBootstrapper)
