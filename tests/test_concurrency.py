"""Per-machine locks: simultaneous commands never start a machine twice or corrupt the inventory."""

import subprocess
import sys

from creature.procs import which


def _spawn(cli, *args):
    return subprocess.Popen([sys.executable, "-m", "creature", "--home", str(cli.home), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def test_twenty_simultaneous_starts_start_one_container(creature_cli, busybox):
    creature_cli.ok("create", "m1", "--driver", "lxc", "--template", busybox)
    procs = [_spawn(creature_cli, "start", "m1") for _ in range(20)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    ok = [r for r in results if r[0] == 0]
    failed = [r for r in results if r[0] != 0]
    assert len(ok) == 1, f"{len(ok)} starts succeeded"
    for code, _out, err in failed:
        assert code == 1 and err == "creature: error: machine 'm1' is already running\n", err
    # exactly one container: one lxc monitor for m1 in this lxcpath
    monitors = subprocess.run(["pgrep", "-f", f"lxc monitor\\] {creature_cli.home}/machines m1"], capture_output=True, text=True)
    assert len(monitors.stdout.split()) == 1
    info = subprocess.run([which("lxc-info"), "-P", f"{creature_cli.home}/machines", "-n", "m1", "-s", "-H"],
                          capture_output=True, text=True)
    assert info.stdout.strip() == "RUNNING"


def test_ten_simultaneous_creates(creature_cli, busybox):
    names = [f"c{i}" for i in range(10)]
    procs = [_spawn(creature_cli, "create", n, "--driver", "lxc", "--template", busybox) for n in names]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [r[0] for r in results] == [0] * 10, [r[2] for r in results if r[0]]
    rows = creature_cli.ok("list", "--format", "json").json()
    assert sorted(r["name"] for r in rows) == sorted(names)
    assert creature_cli("doctor").code == 0


def test_simultaneous_creates_of_one_name(creature_cli, busybox):
    procs = [_spawn(creature_cli, "create", "same", "--driver", "lxc", "--template", busybox) for _ in range(6)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert sorted(r[0] for r in results) == [0] + [2] * 5
    assert all("already exists" in r[2] for r in results if r[0])
    assert [r["name"] for r in creature_cli.ok("list", "--format", "json").json()] == ["same"]
