"""Disk limits, the memory and CPU limits seen from inside, and `creature stats`, on every driver that runs here.

One machine per driver: its limits read inside the guest (cgroup files in containers, the kernel's memory
and CPUs in VMs), a busy loop seen in `stats` (JSON and the Prometheus text format, parsed by
prometheus_client), a write past --disk failing with ENOSPC while the host-side file stays within the
limit, and after `resize` (refused while running and when shrinking) room for more.
"""

from __future__ import annotations

import os
import re

import pytest
from creature.testing import require_usable, snapshot

MIB = 1024 * 1024
DRIVERS = ["lxc", "qemu", "uml", "libvirt-qemu", "libvirt-lxc"]
# the host-side file that holds what the guest writes, and what it may hold beyond the limit (qcow2 tables, COW bitmap)
HOST_FILE = {"lxc": ("disk.ext4", 0), "libvirt-lxc": ("rootfs.ext4", 0), "qemu": ("disk.qcow2", MIB),
             "libvirt-qemu": ("disk.qcow2", MIB), "uml": ("disk.cow", MIB)}
CONTAINERS = {"lxc", "libvirt-lxc"}

# a cgroup v1 controller's file for the container's init, read inside it: mount the hierarchy, follow /proc/1/cgroup
CGROUP = ("mkdir -p /tmp/cg && mount -t cgroup -o {c} cg /tmp/cg"
          " && cat /tmp/cg$(awk -F: '$2 ~ /(^|,){c}(,|$)/ {{print $3}}' /proc/1/cgroup)/{f}; umount /tmp/cg")


def _lines(shell, line: str, timeout: float = 60) -> str:
    status, out = shell.run(line, timeout=timeout)
    assert status == 0, f"{line!r} exited {status} in the guest: {out}"
    return out


def check_limits(shell, driver: str, cpus: int, memory_mib: int) -> None:
    """The guest sees the memory and CPUs it was given (containers: their cgroup's limits; VMs: their kernel's)."""
    if driver in CONTAINERS:
        assert int(_lines(shell, CGROUP.format(c="memory", f="memory.limit_in_bytes")).split()[0]) == memory_mib * MIB
        assert int(_lines(shell, CGROUP.format(c="cpu", f="cpu.cfs_period_us")).split()[0]) == 100000
        assert int(_lines(shell, CGROUP.format(c="cpu", f="cpu.cfs_quota_us")).split()[0]) == cpus * 100000
        return
    assert int(_lines(shell, "nproc").split()[0]) == cpus
    # the kernel's "Memory: FREEK/TOTALK available" line: TOTAL is the RAM the hypervisor gave it (less a few holes)
    boot = _lines(shell, "dmesg | grep 'Memory:'")
    total = int(re.search(r"Memory: \d+K/(\d+)K", boot).group(1))
    assert memory_mib * 1024 - 4096 <= total <= memory_mib * 1024, boot
    mem_total = int(re.search(r"MemTotal:\s+(\d+)", _lines(shell, "cat /proc/meminfo")).group(1))
    assert mem_total <= memory_mib * 1024


def fill(shell, path: str, mib: int) -> tuple[int, str]:
    """dd mib MiB of zeros into path in the guest: (dd's exit status, what it printed)."""
    out = _lines(shell, f"dd if=/dev/zero of={path} bs=1M count={mib} 2>&1; echo dd-status=$?; sync", timeout=600)
    return int(re.search(r"dd-status=(\d+)", out).group(1)), out


def fs_size(shell) -> int:
    """The size of the guest's root filesystem in KiB, as df shows it."""
    return int(_lines(shell, "df -k /").splitlines()[-1].split()[1])


def busy_percent(cli, shell, name: str) -> float:
    """CPU percent `stats` shows while one busy loop runs in the guest (measured over 3 s)."""
    _lines(shell, "(while :; do :; done) </dev/null >/dev/null 2>&1 & echo $! > /tmp/busy")
    try:
        rows = cli.ok("stats", name, "--format", "json", "--interval", "3").json()
    finally:
        _lines(shell, "kill $(cat /tmp/busy)")
    assert [r["name"] for r in rows] == [name]
    return rows[0]["cpu_percent"]


def check_prometheus(cli, name: str, driver: str, disk_limit: int) -> None:
    """`stats --format prometheus` parses with prometheus_client's parser and carries the machine's numbers."""
    from prometheus_client.parser import text_string_to_metric_families

    text = cli.ok("stats", "--format", "prometheus", "--interval", "0.5").out
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["creature_machine_cpu_seconds"].type == "counter"
    samples = {f: [s for s in families[f].samples if s.labels.get("machine") == name]
               for f in ("creature_machine_cpu_seconds", "creature_machine_cpu_percent", "creature_machine_memory_limit_bytes",
                         "creature_machine_disk_limit_bytes")}
    assert all(len(s) == 1 and s[0].labels["driver"] == driver for s in samples.values()), samples
    assert samples["creature_machine_cpu_seconds"][0].value > 0
    assert samples["creature_machine_memory_limit_bytes"][0].value == 128 * MIB
    # a container's limit is its filesystem's size (its own metadata comes off), a VM's the virtual disk's
    assert 0.7 * disk_limit <= samples["creature_machine_disk_limit_bytes"][0].value <= disk_limit


@pytest.mark.slow
@pytest.mark.parametrize("driver", DRIVERS)
def test_disk_limit_resize_limits_and_stats(driver, creature_api, creature_cli, guest):
    require_usable(creature_api, driver)
    cli, cpus = creature_cli, 1 if driver == "uml" else 2  # UML has one virtual CPU
    cli.ok("template", "build", "bb", "--method", "busybox")
    cli.ok("create", "q1", "--driver", driver, "--template", "bb", "--disk", "64M", "--memory", "128M", "--cpus", str(cpus))
    assert cli.ok("show", "q1", "--format", "json").json()["disk"] == 64
    cli.ok("start", "q1")
    host_file, slack = HOST_FILE[driver]
    host_file = creature_api.machine("q1").dir / host_file
    with guest(driver, cli, "q1") as shell:
        check_limits(shell, driver, cpus, 128)
        percent = busy_percent(cli, shell, "q1")
        # one busy CPU is 100; a loaded host gives the loop less, an idle guest shows a few percent at most
        assert 35 <= percent <= 100 * cpus + 25, f"a busy loop in {driver} showed {percent}% CPU"
        check_prometheus(cli, "q1", driver, 64 * MIB)
        size_before = fs_size(shell)
        status, out = fill(shell, "/fill", 200)
        assert status != 0 and "No space left on device" in out, out
    assert os.stat(host_file).st_blocks * 512 <= 64 * MIB + slack, f"{host_file} holds more than the 64 MiB limit"
    if not slack:
        assert os.stat(host_file).st_size == 64 * MIB
    stats = cli.ok("stats", "q1", "--format", "json", "--interval", "0").json()[0]
    assert stats["disk_used"] >= 0.7 * stats["disk_limit"], stats  # the usage `stats` shows is the filled disk

    refused = cli("resize", "q1", "--disk", "128M")
    assert refused.code == 1 and "is running" in refused.err
    cli.ok("stop", "q1", "--timeout", "60")
    before = snapshot(cli.home)
    shrink = cli("resize", "q1", "--disk", "32M")
    assert shrink.code == 2 and shrink.err.startswith("creature: error: ") and "cannot shrink" in shrink.err, shrink.err
    assert snapshot(cli.home) == before
    cli.ok("resize", "q1", "--disk", "128M")
    assert cli.ok("show", "q1", "--format", "json").json()["disk"] == 128
    cli.ok("start", "q1")
    with guest(driver, cli, "q1") as shell:
        assert fs_size(shell) > 1.8 * size_before
        assert "/fill" in _lines(shell, "ls /fill"), "what the guest wrote before the resize is still there"
        status, out = fill(shell, "/more", 40)
        assert status == 0, out
    cli.ok("kill", "q1")
    assert os.stat(creature_api.machine("q1").dir / HOST_FILE[driver][0]).st_blocks * 512 <= 128 * MIB + slack
