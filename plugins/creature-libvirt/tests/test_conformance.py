"""Both libvirt drivers pass the conformance suite against the session's private libvirtd."""

from creature.testing import DriverConformance


class TestLibvirtQemuConformance(DriverConformance):
    driver = "libvirt-qemu"
    boot_timeout = 60
    stop_timeout = 30


class TestLibvirtLxcConformance(DriverConformance):
    driver = "libvirt-lxc"
    boot_timeout = 20
