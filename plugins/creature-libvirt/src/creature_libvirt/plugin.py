"""Entry-point module of creature-libvirt: hook implementations only (drivers are registered by name and imported when used)."""

from creature.sdk import hookimpl


@hookimpl
def creature_register_drivers(register):
    # by name: neither the driver module nor libvirt is imported unless a libvirt driver is used
    register("creature_libvirt.driver:LibvirtQemuDriver", name="libvirt-qemu", states="creature_libvirt.states:states")
    register("creature_libvirt.driver:LibvirtLxcDriver", name="libvirt-lxc", states="creature_libvirt.states:states")
