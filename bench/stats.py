#!/usr/bin/env python3
"""`creature stats` of 50 running LXC machines against a shell loop that reads the same cgroup and /proc files.

Both take one reading (creature: --interval 0, no CPU percent). The shell loop is given each container's
cgroup folders and init pid, found beforehand, and runs one `cat` per machine; creature finds them itself
and also reads each container's disk usage (statvfs of its writable layer's filesystem).
"""

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import VENV_BIN, report, time_commands  # noqa: E402
from creature.api import Creature  # noqa: E402
from creature.procs import which  # noqa: E402
from creature.testing_cleanup import cleanup_home  # noqa: E402

MACHINES = 50
RUNS = 7


def cgroup_dirs(pid: int) -> dict[str, str]:
    """Where the container whose init is pid has its cpuacct and memory cgroups (v1, as these hosts mount them)."""
    found = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in ("cpuacct", "memory"):
            if name in controllers.split(","):
                found[name] = f"/sys/fs/cgroup/{name}{path}"
    return found


def shell_loop(api: Creature, names: list[str]) -> str:
    """The raw reading: one cat per machine of the files `creature stats` reads (cgroup counters, net/dev)."""
    lines = []
    for name in names:
        machine = api.machine(name)
        monitor = int((machine.dir / "monitor.pid").read_text())
        init = int(Path(f"/proc/{monitor}/task/{monitor}/children").read_text().split()[0])
        dirs = cgroup_dirs(init)
        lines.append(f"{name} {init} {dirs['cpuacct']} {dirs['memory']}")
    return ("while read name pid cpu mem; do cat $cpu/cpuacct.usage $mem/memory.usage_in_bytes $mem/memory.limit_in_bytes"
            " $mem/memory.stat /proc/$pid/net/dev > /dev/null; done <<'EOF'\n" + "\n".join(lines) + "\nEOF\n")


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="crb.", dir="/tmp"))
    names = [f"s{i:02d}" for i in range(MACHINES)]
    try:
        api = Creature(home)
        api.templates.build("bb", "busybox")
        for name in names:
            api.create({"name": name, "driver": "lxc", "template": "bb", "memory": "64M", "disk": "32M"})
            api.start(name)
        stats = [str(VENV_BIN / "creature"), "--home", str(home), "stats", "--interval", "0", "--format", "json"]
        rows = subprocess.run(stats, capture_output=True, text=True, check=True).stdout
        assert rows.count('"name"') == MACHINES, f"creature stats did not report all {MACHINES} machines: {rows[:300]}"
        script = shell_loop(api, names)
        creature, raw = time_commands([stats, [which("bash"), "-c", script]], RUNS)
        report("stats", [
            {"operation": f"stats, {MACHINES} running LXC machines", "creature": creature, "raw": raw,
             "ratio": creature / raw, "target": "ratio <= 2 (raw: a shell loop, one cat per machine)"},
        ])
    finally:
        cleanup_home(home)


if __name__ == "__main__":
    main()
