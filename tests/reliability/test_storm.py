"""Storm: 8 processes, 400 random commands on 20 machines; afterwards the inventory and the hypervisors agree."""

import json
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from creature.api import Creature
from creature.procs import ProcessRecord

WORKERS, COMMANDS, NAMES = 8, 400, 20
CLEAN_ERRORS = ("already exists", "already running", "is not running", "no machine named", "is running: stop it first")


def _commands(drivers: list[str], seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    names = [f"s{i:02d}" for i in range(NAMES)]
    # UML guests take seconds to boot and stop: give them a quarter of the names
    driver_of = {n: drivers[1] if len(drivers) > 1 and i % 4 == 0 else drivers[0] for i, n in enumerate(names)}
    ops = []
    for _ in range(COMMANDS):
        n = rng.choice(names)
        op = rng.choices(["create", "start", "stop", "list", "destroy"], weights=[3, 3, 2, 1, 1])[0]
        ops.append({
            "create": ["create", n, "--driver", driver_of[n], "--template", "bb", "--memory", "64M"],
            "start": ["start", n],
            "stop": ["stop", n, "--timeout", "5"],
            "list": ["list", "--format", "json"],
            "destroy": ["destroy", n, "--force"],
        }[op])
    return ops


def _running_processes(home: Path) -> dict[str, int]:
    """How many live hypervisor processes each machine folder of home has (by pinned pid files)."""
    found = {}
    for run in sorted(home.glob("machines/*/run.json")):
        data = json.loads(run.read_text())
        for record in data.values():
            rec = ProcessRecord.from_dict(record) if isinstance(record, dict) and "pid" in record else None
            if rec and rec.alive():
                found[run.parent.name] = found.get(run.parent.name, 0) + 1
    return found


def test_storm(creature_cli, storm_drivers, counts):
    ops = _commands(storm_drivers, seed=20261126)
    home = str(creature_cli.home)

    def run(argv):
        proc = subprocess.run([sys.executable, "-m", "creature", "--home", home, *argv],
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        return argv, proc.returncode, proc.stderr

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(run, ops))
    counts["commands issued"] += len(results)
    unclean = [(a, c, e) for a, c, e in results
               if c != 0 and not (c in (1, 2) and e.count("\n") == 1 and e.startswith("creature: error: ")
                                  and any(m in e for m in CLEAN_ERRORS))]
    assert not unclean, f"{len(unclean)} commands failed uncleanly, first: {unclean[0]}"
    api = Creature(creature_cli.home)
    machines = api.inventory.machines()
    infos = {i.name: i for i in api.list_machines()}
    for m in machines:
        assert m.dir.is_dir(), f"{m.name} is listed but has no folder"
        assert (m.dir / "config").exists() or any(m.dir.iterdir()), f"{m.name} has an empty folder"
    counts["machines checked"] += len(machines)
    listed = {m.name for m in machines}
    on_disk = {p.name for p in (creature_cli.home / "machines").iterdir()}
    assert on_disk == listed, f"folders without machines: {on_disk - listed}"
    for name, n in _running_processes(creature_cli.home).items():
        assert name in listed, f"a hypervisor process runs for {name}, which is not in the inventory"
        assert infos[name].state.value == "running", f"{name} has a live process but is listed {infos[name].state.value}"
        assert n == 1, f"{name} runs {n} times"
    # LXC's own view: exactly the machines creature calls running, each once
    monitors = subprocess.run(["pgrep", "-af", f"lxc monitor\\] {creature_cli.home}/machines "], capture_output=True, text=True).stdout
    names = [line.split()[-1] for line in monitors.splitlines()]
    assert len(names) == len(set(names)), f"an LXC container runs twice: {names}"
    assert set(names) == {n for n, i in infos.items() if i.driver == "lxc" and i.state.value == "running"}
    assert api.doctor() == [], "the storm left leftovers"
