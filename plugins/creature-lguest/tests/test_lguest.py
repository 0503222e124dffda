"""The Lguest driver: the removed-in-4.14 probe, the launcher command line, and a refused create."""

from __future__ import annotations

import json

import pytest
from creature.sdk import HostFacts, tool
from creature.testing import DriverConformance
from creature.testing_plans import plan_machine, staged_create

MODERN = HostFacts().kernel_version >= (4, 14)


class TestLguestConformance(DriverConformance):
    driver = "lguest"


def test_probe_says_lguest_was_removed(creature_api):
    if not MODERN:
        pytest.skip("this kernel predates 4.14: Lguest may still be there")
    probe = creature_api.probe("lguest")
    kernel = next(c for c in probe.checks if c.name == "kernel")
    assert not probe.usable and not kernel.ok
    major, minor = creature_api.host.kernel_version
    assert kernel.reason.startswith(f"Lguest was removed from Linux in 4.14; this kernel is {major}.{minor}")


def test_probe_on_an_old_kernel_asks_for_dev_lguest(creature_api, monkeypatch):
    monkeypatch.setattr(HostFacts, "kernel_version", (4, 9), raising=False)
    monkeypatch.setattr(HostFacts, "kernel_release", "4.9.0-lguest", raising=False)
    probe = creature_api.driver("lguest").probe(HostFacts())
    kernel = next(c for c in probe.checks if c.name == "kernel")
    from creature_lguest.driver import DEVICE

    if DEVICE.exists():
        assert kernel.ok
    else:
        assert not kernel.ok and "/dev/lguest is missing" in kernel.reason


def test_create_writes_the_launcher_command_line(creature_api, tmp_path):
    from creature_lguest.launcher import parse_launcher_argv

    machine = plan_machine(creature_api, "lguest", memory="64M", nics=[{"network": "br-lan"}, {"mac": "02:4c:47:00:00:01"}])
    machine.data, staging = staged_create(creature_api, machine, tmp_path)
    argv = json.loads((staging / "lguest.argv.json").read_text())
    # tools/lguest/lguest.c usage() in Linux v4.13, the last release with Lguest:
    # lguest [--tunnet=bridge:<bridgename>:<macaddr>|--block=<filename>|--initrd=<filename>]... <mem-in-mb> vmlinux [args...]
    assert argv[0] == tool("lguest")
    assert argv[1].startswith("--tunnet=bridge:br-lan:02:4c:47:")
    assert argv[2] == "--tunnet=bridge:lgbr0:02:4c:47:00:00:01"
    assert argv[3] == f"--block={machine.dir / 'disk.img'}"
    guest = parse_launcher_argv(argv)
    assert guest.memory == 64 and guest.kernel.name.startswith("vmlinuz-")
    assert guest.args == ["root=/dev/vda", "rw", "console=hvc0", "creature.hostname=web"]
    assert [mac for _, mac in guest.nics] == machine.data["macs"]
    with pytest.raises(ValueError):
        parse_launcher_argv(["lguest", "--sharenet=/tmp/x", "64", "vmlinux"])
