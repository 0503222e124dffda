"""The kvm driver: its probe runs a real vCPU; guests run only where it does; its command line is always tested."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from creature.sdk import Machine, MachineSpec
from creature.testing import DriverConformance


class TestKvmConformance(DriverConformance):
    """Skipped with the probe's reason where KVM cannot run a vCPU (as on KVM-PVM hosts)."""

    driver = "kvm"
    boot_timeout = 60


def test_vcpu_probe_is_quick_and_decisive():
    """The child process ends in under 2 s whatever KVM does, and says why."""
    from creature_qemu import kvm_probe

    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "creature_qemu.kvm_probe"], capture_output=True, text=True, timeout=10)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"the KVM probe took {elapsed:.2f} s"
    reason = proc.stdout.strip()
    if proc.returncode == 0:
        assert reason.startswith("a test vCPU ran")
    else:
        assert reason, proc.stderr
        if proc.returncode == 3:  # the alarm fired: the vCPU never reached its port write
            assert f"{kvm_probe.LOOPS:,} loop steps within {kvm_probe.ALARM_SECONDS:g} s" in reason


def test_probe_agrees_with_the_vcpu_and_host_check_shows_the_reason(creature_cli, creature_api):
    probe = creature_api.probe("kvm")
    rows = creature_cli.ok("host", "check", "--format", "json").json()
    kvm = rows["drivers"]["kvm"]
    assert kvm["usable"] == probe.usable
    reasons = " ".join(c["reason"] for c in kvm["checks"])
    if not probe.usable:
        assert probe.reason in reasons or any(c.reason in reasons for c in probe.checks if not c.ok)
        from pathlib import Path

        if Path("/sys/module/kvm_pvm").is_dir():
            # KVM-PVM opens and creates VMs but does not run guests at speed: the reason must say so
            assert "test vCPU did not run" in probe.reason and "kvm_pvm" in probe.reason


def test_driver_kvm_is_a_clear_error_where_unusable(creature_cli, creature_api):
    probe = creature_api.probe("kvm")
    if probe.usable:
        pytest.skip("KVM runs guests on this host: there is no error to see")
    creature_api.templates.build("bb", "busybox")
    result = creature_cli("create", "k1", "--driver", "kvm", "--template", "bb")
    assert result.code == 2
    assert result.err.startswith("creature: error: driver 'kvm' is not usable on this host: ")
    assert probe.checks[-1].reason in result.err
    assert creature_cli.ok("list", "--format", "json").json() == []


def test_default_driver_prefers_kvm_only_when_usable(creature_api):
    from creature_qemu.driver import KvmDriver, QemuDriver

    assert KvmDriver.priority > QemuDriver.priority
    default = creature_api.default_driver()
    if creature_api.probe("kvm").usable:
        assert default == "kvm" or creature_api.registry.entry(default).cls.priority >= KvmDriver.priority
    else:
        assert default != "kvm"


def test_kvm_command_line(creature_api, tmp_path):
    """The argv a kvm machine starts with, built without running it (works on any host)."""
    driver = creature_api.driver("kvm")
    spec = MachineSpec.parse({"name": "k1", "driver": "kvm", "template": "bb", "cpus": 2, "memory": "300M"})
    machine = Machine(spec=spec, dir=tmp_path / "k1",
                      data={"boot": "kernel", "guest": {"init": "/sbin/init", "acpi_signal": "USR2"}})
    argv = driver.plan(machine, "start")[0]
    assert argv[0].endswith("qemu-system-x86_64")
    pairs = dict(zip(argv, argv[1:], strict=False))
    assert pairs["-machine"] == "q35,accel=kvm" and pairs["-cpu"] == "host"
    assert pairs["-smp"] == "2" and pairs["-m"] == "300M"
    assert pairs["-drive"] == f"file={machine.dir / 'disk.qcow2'},if=virtio,format=qcow2,discard=unmap"
    assert pairs["-qmp"] == f"unix:{machine.dir / 'qmp.sock'},server=on,wait=off"
    assert pairs["-chardev"] == (f"socket,id=console,path={machine.dir / 'console.sock'},server=on,wait=off,"
                                 f"logfile={machine.dir / 'console.log'}")
    assert pairs["-serial"] == "chardev:console" and pairs["-pidfile"] == str(machine.dir / "qemu.pid")
    assert argv[-1] == "-daemonize"
    append = pairs["-append"].split()
    assert {"console=ttyS0", "root=/dev/vda", "creature.hostname=k1", "creature.acpi=USR2", "init=/sbin/init"} <= set(append)
    assert pairs["-nic"] == "none"
    # the disk's own boot loader instead of a direct kernel boot
    disk = machine.replace(data={"boot": "disk"})
    argv = driver.plan(disk, "start")[0]
    assert "-kernel" not in argv and "-append" not in argv and dict(zip(argv, argv[1:], strict=False))["-boot"] == "order=c"
    # the same machine under TCG differs only in accelerator and CPU model
    tcg = creature_api.driver("qemu").plan(machine, "start")[0]
    assert [a for a in tcg if a not in ("q35,accel=tcg", "qemu64")] == [a for a in driver.plan(machine, "start")[0]
                                                                         if a not in ("q35,accel=kvm", "host")]


def test_template_kernel_boot_command_line(creature_api, tmp_path):
    """A template with its own kernel and initrd boots them (their modules match its disk), without our acpid."""
    from creature.sdk import Template
    from creature_qemu.driver import QemuDriver, guest_settings

    rootfs = tmp_path / "tpl" / "rootfs"
    template = Template(name="deb", method="debootstrap", path=tmp_path / "tpl",
                        meta={"os": "debian", "init_system": "sysvinit", "halt_signal": "SIGPWR",
                              "kernel": "boot/vmlinuz-6.1.0-9-amd64", "initrd": "boot/initrd.img-6.1.0-9-amd64"})
    assert guest_settings(template) == {"init": "/sbin/init", "acpi_signal": "PWR"}
    spec = MachineSpec.parse({"name": "d1", "driver": "qemu", "template": "deb"})
    machine = Machine(spec=spec, dir=tmp_path / "d1", data={
        "boot": "template", "guest": guest_settings(template),
        "kernel": str(rootfs / "boot/vmlinuz-6.1.0-9-amd64"), "initrd": str(rootfs / "boot/initrd.img-6.1.0-9-amd64")})
    argv = QemuDriver(creature_api.home).plan(machine, "start")[0]
    pairs = dict(zip(argv, argv[1:], strict=False))
    assert pairs["-kernel"] == str(rootfs / "boot/vmlinuz-6.1.0-9-amd64")
    assert pairs["-initrd"] == str(rootfs / "boot/initrd.img-6.1.0-9-amd64")
    assert "creature.acpi" not in pairs["-append"] and "root=/dev/vda" in pairs["-append"]
