"""A full disk, a corrupted or locked inventory, processes killed from outside, recycled pids."""

import os
import sqlite3
import subprocess
import time

import pytest
from creature.testing import CLI, cleanup_home, make_home, wait_until


@pytest.fixture
def small_home():
    """A creature home on a 12 MiB tmpfs (unmounted afterwards, whatever happens)."""
    home = make_home()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m,mode=0700", "tmpfs", str(home)], check=True)
    try:
        yield home
    finally:
        try:
            cleanup_home_keep_mount(home)
        finally:
            subprocess.run(["umount", "-l", str(home)], check=False)
            os.rmdir(home)


def cleanup_home_keep_mount(home):
    from creature.api import Creature

    (home / "filler").unlink(missing_ok=True)
    try:
        api = Creature(home)
        for m in api.inventory.machines():
            try:
                api.destroy(m.name, force=True)
            except Exception as exc:
                print(f"cleanup of {m.name} failed: {exc}")
    except Exception as exc:
        print(f"cleanup of {home} failed: {exc}")


def test_full_disk(small_home, counts):
    cli = CLI(small_home)
    cli.ok("template", "build", "bb", "--method", "busybox")
    cli.ok("create", "keep", "--driver", "lxc", "--template", "bb")
    filler = small_home / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    result = cli("create", "web", "--driver", "lxc", "--template", "bb")
    filler.unlink()
    counts["faults injected"] += 1
    assert result.code == 1, result.err
    assert result.err.count("\n") == 1 and result.err.startswith("creature: error: ")
    assert "No space left on device" in result.err or "disk is full" in result.err, result.err
    assert [r["name"] for r in cli.ok("list", "--format", "json").json()] == ["keep"]
    assert os.listdir(small_home / "staging") == []
    assert not (small_home / "machines" / "web").exists()
    cli.ok("start", "keep")
    assert cli.ok("exec", "keep", "--", "hostname").out.strip() == "keep"


def test_corrupted_inventory(creature_cli, storm_drivers):
    creature_cli.ok("create", "web", "--driver", "lxc", "--template", "bb")
    inventory = creature_cli.home / "inventory.sqlite"
    for suffix in ("-wal", "-shm"):
        (creature_cli.home / f"inventory.sqlite{suffix}").unlink(missing_ok=True)
    inventory.write_bytes(b"this is not a database" * 100)
    result = creature_cli("list")
    assert result.code == 1
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert "inventory" in result.err and "corrupt" in result.err and "doctor --rebuild" in result.err
    # the way out the message gives: the machine and its template come back, and work
    creature_cli.ok("doctor", "--rebuild")
    rows = creature_cli.ok("list", "--format", "json").json()
    assert [(r["name"], r["template"], r["driver"]) for r in rows] == [("web", "bb", "lxc")]
    assert list(creature_cli.home.glob("inventory.sqlite.broken-*")), "the damaged file must be kept aside"
    creature_cli.ok("start", "web")
    assert creature_cli.ok("exec", "web", "--", "hostname").out.strip() == "web"


def test_locked_inventory(creature_cli, storm_drivers):
    creature_cli.ok("create", "web", "--driver", "lxc", "--template", "bb")
    holder = sqlite3.connect(creature_cli.home / "inventory.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        start = time.monotonic()
        result = creature_cli("create", "db", "--driver", "lxc", "--template", "bb", env={"CREATURE_LOCK_TIMEOUT": "1"})
        assert time.monotonic() - start < 20
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.code == 1
    assert result.err.count("\n") == 1 and "locked" in result.err, result.err
    assert [r["name"] for r in creature_cli.ok("list", "--format", "json").json()] == ["web"]
    assert creature_cli.ok("doctor", "--format", "json").json() == []


def test_killed_from_outside_and_recycled_pid(creature_cli, storm_drivers, counts):
    import json
    import signal

    from creature.api import Creature

    creature_cli.ok("create", "web", "--driver", "lxc", "--template", "bb")
    creature_cli.ok("start", "web")
    api = Creature(creature_cli.home)
    run = json.loads((api.machine("web").dir / "run.json").read_text())
    pid = run["monitor"]["pid"]
    os.kill(pid, signal.SIGKILL)
    counts["faults injected"] += 1
    # within one second (the API, so that the CLI's own start-up on a busy machine is not what is measured)
    wait_until(lambda: api.state("web").value == "stopped", 1.0, 0.02, "web to be seen stopped")
    assert creature_cli.ok("show", "web", "--format", "json").json()["state"] == "stopped"
    # recycle: a live process of ours under the recorded pid number is not the machine
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        run["monitor"]["pid"] = sleeper.pid
        (api.machine("web").dir / "run.json").write_text(json.dumps(run))
        assert creature_cli.ok("show", "web", "--format", "json").json()["state"] == "stopped"
    finally:
        sleeper.kill()
        sleeper.wait()
    creature_cli.ok("start", "web")
    assert creature_cli.ok("show", "web", "--format", "json").json()["state"] == "running"


def test_cleanup_is_robust():
    home = make_home()
    cleanup_home(home)
    assert not home.exists()
