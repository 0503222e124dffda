"""The xen driver's conformance suite, run inside the Xen lab's dom0 against the real hypervisor and xl.

Not collected on the host (its name does not match test_*.py): dom0-suite.sh names it to pytest.
Guests are the busybox template's disk booted as PV domUs with dom0's own kernel and the lab's
mountroot initramfs (/boot in dom0, where the xen driver looks when a template brings no kernel).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from creature.testing import DriverConformance, wait_until

# dom0-main.sh starts xenconsoled with --log=guest --log-dir=/var/log/xen
CONSOLE_LOG = Path("/var/log/xen")
# the busybox template's rcS prints this on the console once the guest's userspace runs
UP_LINE = "creature: {name} is up"


def xl_domains() -> dict[str, dict]:
    """Domains by name, straight from `xl list -l` (JSON), not through the driver under test."""
    out = subprocess.run(["xl", "list", "-l"], capture_output=True, text=True, check=True, timeout=60).stdout
    return {d["config"]["c_info"]["name"]: d for d in json.loads(out or "[]") if "config" in d}


def console_text(name: str) -> str:
    path = CONSOLE_LOG / f"guest-{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


class TestXenInLab(DriverConformance):
    driver = "xen"
    # under TCG, `xl create` alone takes 7-16 s and a PV guest's userspace comes 5-8 s later
    boot_timeout = 240
    stop_timeout = 120
    # busybox guests run no getty on Xen's console (hvc0): the shared snapshot and export tests need a shell, so
    # snapshots are checked on the stopped domain's disk instead (test_snapshot_restores_the_stopped_disk)
    root_login = False

    def test_running_console_restart_and_recreate(self, creature_api, template):
        """State agrees with `xl list -l`; console output arrives; a name is reusable right after a graceful stop.

        `xl shutdown -w` can return while the domain still exists for seconds: starting or re-creating
        the same name right after must wait for it to be gone, not fail with "already exists".
        """
        api, name = creature_api, "conf-race"
        api.create({"name": name, "driver": self.driver, "template": template, "memory": "128M"})
        api.start(name)
        assert api.state(name).value == "running"
        assert name in xl_domains(), "creature says running but `xl list -l` has no such domain"
        wait_until(lambda: UP_LINE.format(name=name) in console_text(name), self.boot_timeout, 1.0,
                   f"{UP_LINE.format(name=name)!r} in {CONSOLE_LOG}/guest-{name}.log")

        assert not api.stop(name, timeout=self.stop_timeout).forced, "a busybox guest honours xl shutdown"
        assert api.state(name).value == "stopped"
        assert name not in xl_domains(), "stopped, yet `xl list -l` still lists the domain"
        # started again at once: the previous domain of this name must be gone first
        api.start(name)
        assert api.state(name).value == "running"

        assert not api.stop(name, timeout=self.stop_timeout).forced
        api.destroy(name)
        assert api.inventory.machine(name) is None
        # re-created and started right after: nothing of the old machine may be in the way
        api.create({"name": name, "driver": self.driver, "template": template, "memory": "128M"})
        api.start(name)
        assert api.state(name).value == "running" and name in xl_domains()
        api.kill(name)
        assert api.state(name).value == "stopped" and name not in xl_domains()
        api.destroy(name)
        assert api.inventory.machine(name) is None


def _debugfs(disk: Path, request: str, write: bool = False) -> subprocess.CompletedProcess:
    """One debugfs request on a stopped domain's ext4 disk (e2fsprogs, which dom0 has for template images)."""
    return subprocess.run(["debugfs", *(["-w"] if write else []), "-R", request, str(disk)],
                          capture_output=True, text=True, timeout=60)


def test_snapshot_restores_the_stopped_disk(creature_api, tmp_path):
    """A snapshot of a stopped domain's disk comes back whole; the restored domain boots; a running one is refused.

    Through the API: each `creature` command in dom0 costs 8-9 s of Python start-up under TCG.
    """
    import pytest
    from creature.sdk import InputError

    api, name = creature_api, "conf-xsnap"
    api.templates.build("bb", "busybox")
    api.create({"name": name, "driver": "xen", "template": "bb", "memory": "128M"})
    disk = api.machine(name).dir / "disk.img"

    def put(text: str) -> None:
        (tmp_path / "proof").write_text(text)
        _debugfs(disk, "rm /creature-proof", write=True)
        assert _debugfs(disk, f"write {tmp_path / 'proof'} /creature-proof", write=True).returncode == 0

    def get() -> str:
        return _debugfs(disk, "cat /creature-proof").stdout

    put("first")
    api.snapshots.create(name, "s1")
    put("second")
    assert get() == "second"
    api.snapshots.restore(name, "s1")
    assert get() == "first"
    assert [(s.name, s.memory, s.running) for s in api.snapshots.list(name)] == [("s1", False, False)]
    api.start(name)
    wait_until(lambda: UP_LINE.format(name=name) in console_text(name), TestXenInLab.boot_timeout, 1.0,
               "the restored domain to boot")
    with pytest.raises(InputError, match="cannot snapshot a running machine"):
        api.snapshots.create(name, "s2")
    api.stop(name, timeout=TestXenInLab.stop_timeout)
    api.snapshots.remove(name, "s1")
    assert api.snapshots.list(name) == []
    api.destroy(name)
    assert api.doctor() == []
