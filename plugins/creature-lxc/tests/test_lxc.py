"""The LXC driver against real lxc-* tools: conformance, plus what is specific to LXC."""

import pytest
from creature.testing import DriverConformance, require_usable


class TestLxcConformance(DriverConformance):
    driver = "lxc"
    boot_timeout = 20


@pytest.fixture
def lxc_machine(creature_api):
    require_usable(creature_api, "lxc")
    creature_api.templates.build("bb", "busybox")
    creature_api.create({"name": "c1", "driver": "lxc", "template": "bb", "memory": "96M", "cpus": 2})
    return creature_api


def test_private_lxcpath_and_overlay_clone(lxc_machine):
    api = lxc_machine
    machine = api.machine("c1")
    config = (machine.dir / "config").read_text()
    template = api.templates.get("bb")
    assert f"lxc.rootfs.path = overlay:{template.rootfs}:{machine.dir / 'delta'}" in config
    assert api.info("c1").clone == "overlayfs"
    # the guest is adjusted in its own upper folder; the template is untouched
    assert (machine.dir / "delta/etc/hostname").read_text() == "c1\n"
    assert (template.rootfs / "etc/hostname").read_text() == "busybox\n"
    assert oct((machine.dir / "config").stat().st_mode & 0o777) == "0o600"


def _payload_cgroup(controller: str, name: str, key: str) -> str:
    from pathlib import Path

    for base in (Path("/sys/fs/cgroup") / controller, Path("/sys/fs/cgroup")):
        path = base / f"lxc.payload.{name}" / key
        if path.exists():
            return path.read_text().strip()
    pytest.fail(f"no cgroup file {key} for container {name}")


def test_limits_reach_the_container(lxc_machine, capfd):
    api = lxc_machine
    api.start("c1")
    host = api.host
    if "memory" in host.cgroup_v1_controllers:
        assert _payload_cgroup("memory", "c1", "memory.limit_in_bytes") == str(96 * 1024 * 1024)
        assert _payload_cgroup("cpu", "c1", "cpu.cfs_quota_us") == "200000"
    else:
        assert _payload_cgroup("memory", "c1", "memory.max") == str(96 * 1024 * 1024)
        assert _payload_cgroup("cpu", "c1", "cpu.max") == "200000 100000"
    capfd.readouterr()
    assert api.exec("c1", ["hostname"]) == 0
    assert capfd.readouterr().out.strip() == "c1"
    assert api.exec("c1", ["sh", "-c", "exit 7"]) == 7


def test_writes_stay_in_the_clone(lxc_machine):
    api = lxc_machine
    api.start("c1")
    assert api.exec("c1", ["sh", "-c", "echo mine > /root/file"]) == 0
    machine = api.machine("c1")
    assert (machine.dir / "delta/root/file").read_text() == "mine\n"
    assert not (api.templates.get("bb").rootfs / "root/file").exists()


def test_state_follows_the_process_not_memory(lxc_machine):
    """Killing the container's monitor from outside is seen at once; a reused pid is not mistaken for it."""
    import json
    import os
    import signal

    from creature.testing import wait_until

    api = lxc_machine
    api.start("c1")
    machine = api.machine("c1")
    record = json.loads((machine.dir / "run.json").read_text())["monitor"]
    os.kill(record["pid"], signal.SIGKILL)
    wait_until(lambda: api.state("c1").value == "stopped", 1.0, 0.05, "state to become stopped")
    # a record naming a live pid with another start time (pid reuse) is not this machine
    (machine.dir / "run.json").write_text(json.dumps({"monitor": {"pid": os.getpid(), "start_time": 1, "cmdline": "x"}}))
    assert api.state("c1").value == "stopped"
