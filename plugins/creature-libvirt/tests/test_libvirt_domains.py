"""What is specific to the libvirt drivers: domain XML, libvirt autostart, console streams, lifecycle events."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET

import pytest
from creature.sdk import hookimpl, run, which
from creature.testing import require_usable, wait_until


@pytest.fixture
def lv(creature_api):
    for name in ("libvirt-qemu", "libvirt-lxc"):
        require_usable(creature_api, name)
    creature_api.templates.build("bb", "busybox")
    return creature_api


def test_qemu_domain_boots_a_copy_on_write_disk(lv):
    api = lv
    api.create({"name": "vm1", "driver": "libvirt-qemu", "template": "bb", "memory": "96M", "cpus": 2})
    machine = api.machine("vm1")
    domain = api.driver("libvirt-qemu")._domain(machine)
    xml = ET.fromstring(domain.XMLDesc(0))
    assert xml.get("type") == "qemu" and xml.findtext("memory") == str(96 * 1024) and xml.findtext("vcpu") == "2"
    assert xml.find("features/acpi") is not None
    assert xml.find("devices/disk/source").get("file") == str(machine.dir / "disk.qcow2")
    assert xml.find("devices/serial/log").get("file") == str(machine.dir / "console.log")
    assert "creature.hostname=vm1" in xml.findtext("os/cmdline")
    info = run([which("qemu-img"), "info", "--output=json", str(machine.dir / "disk.qcow2")]).stdout
    assert str(api.templates.get("bb").path / "disk.ext4") in info  # the template image is its backing file
    assert api.info("vm1").clone == "qcow2"


def test_autostart_is_libvirts_own(lv):
    api = lv
    api.create({"name": "auto1", "driver": "libvirt-lxc", "template": "bb", "autostart": True})
    api.create({"name": "auto0", "driver": "libvirt-lxc", "template": "bb"})
    driver = api.driver("libvirt-lxc")
    assert driver._domain(api.machine("auto1")).autostart() == 1
    assert driver._domain(api.machine("auto0")).autostart() == 0


def test_console_through_a_libvirt_stream(lv, creature_cli):
    api = lv
    api.create({"name": "con1", "driver": "libvirt-lxc", "template": "bb"})
    api.start("con1")
    # a newline sent before the getty runs is lost (it flushes its input), and a second attach sees nothing new
    wait_until(lambda: "getty" in creature_cli("exec", "con1", "--", "ps").out, 20, 0.2, "a getty in the container")
    # busybox's getty answers a newline with the login prompt, which carries the machine's hostname
    def prompt():
        result = creature_cli("console", "con1", input="\n", timeout=30)
        return result.out if result.code == 0 and "con1 login:" in result.out else None
    assert "con1 login:" in wait_until(prompt, 60, 0.5, "a login prompt on the console")


def test_lifecycle_events_reach_plugins(lv):
    api = lv
    seen: list[tuple[str, str]] = []
    arrived = threading.Event()

    class Recorder:
        @hookimpl
        def creature_machine_event(self, machine, event):
            seen.append((machine.name, event))
            arrived.set()

    api.plugins.pm.register(Recorder())
    api.create({"name": "ev1", "driver": "libvirt-lxc", "template": "bb"})
    driver = api.driver("libvirt-lxc")
    driver.forward_events(api)
    seen.clear()
    # started and killed behind creature's back: only libvirt's events can tell the plugins
    run([which("virsh"), "-c", driver.uri, "start", "ev1"])
    wait_until(lambda: ("ev1", "started") in seen, 10, 0.05, "a started event")
    run([which("virsh"), "-c", driver.uri, "destroy", "ev1"])
    wait_until(lambda: ("ev1", "stopped") in seen, 10, 0.05, "a stopped event")
    assert seen == [("ev1", "started"), ("ev1", "stopped")]


def test_dry_run_defines_nothing(lv, creature_cli):
    driver = lv.driver("libvirt-qemu")
    before = {d.name() for d in driver.connection.domains()}
    result = creature_cli.ok("create", "dry1", "--driver", "libvirt-qemu", "--template", "bb", "--dry-run")
    assert "<domain" in result.out and "<name>dry1</name>" in result.out
    assert {d.name() for d in driver.connection.domains()} == before
    assert lv.inventory.machine("dry1") is None and not (lv.templates.get("bb").path / "disk.ext4").exists()


def _container_inits(name: str) -> list[int]:
    """PIDs of processes libvirt started as the container's init (it marks their environment)."""
    import os

    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if f"LIBVIRT_LXC_NAME={name}".encode() in environ:
            found.append(int(pid))
    return found


def test_a_container_without_nics_never_shares_the_host_network(lv):
    """Its init's network scripts must not reach the host's interfaces (this once flushed a host's eth0)."""
    import os

    api = lv
    api.create({"name": "iso1", "driver": "libvirt-lxc", "template": "bb"})
    api.start("iso1")
    inits = wait_until(lambda: _container_inits("iso1"), 10, 0.1, "the container's init")
    host_net = os.readlink("/proc/self/ns/net")
    for pid in inits:
        assert os.readlink(f"/proc/{pid}/ns/net") != host_net, "the container shares the host's network namespace"
    domain = api.driver("libvirt-lxc")._domain(api.machine("iso1"))
    assert ET.fromstring(domain.XMLDesc(0)).find("features/privnet") is not None
