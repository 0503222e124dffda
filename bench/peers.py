#!/usr/bin/env python3
"""creature against its peers on the same work: LXD (lxc), libvirt (virsh), the raw lxc-* tools and QEMU, Vagrant's floor.

Every tool gets the same busybox rootfs (creature's template, imported into LXD from local tarballs) and
creature's default limits (1 CPU, 256 MiB). Each operation is timed for creature, then the peer, then the
raw tool, round after round (the first round only warms up), and the medians are compared. Everything
runs in a network namespace made for the run (only lo), with a private LXD (own LXD_DIR, dir pool, mount
namespace) and a private libvirtd (creature_libvirt.private_daemon); all of it is removed at the end.
docs/benchmarks-peers.md says how each row is measured. `make bench-peers` installs the peers from Debian.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import RESULTS, VENV_BIN, report  # noqa: E402
from creature.procs import ProcessRecord, which  # noqa: E402
from creature.testing_cleanup import cleanup_home  # noqa: E402
from peerlib import (  # noqa: E402
    PrivateLxd,
    Timings,
    creature_processes,
    kill_records,
    machine_facts,
    memory_mib,
    qemu_argv_of_domain,
    tool_version,
)

IN_NETNS = "CREATURE_BENCH_PEERS_NETNS"


@dataclass
class Sizes:
    """Rounds per kind of row (each after one that warms up) and how many machines the lists hold."""

    rounds: int = 11  # lifecycle
    list_rounds: int = 15  # list and show
    libvirt_rounds: int = 21  # libvirt-qemu start: libvirt starts a TCG guest in ~300 or ~450 ms, one or the other
    floor_rounds: int = 5  # Vagrant's command floor
    listed: int = 100
    running: int = 10  # containers running while the per-container memory is measured


MEMORY, CPUS = 256, 1  # creature's defaults, given to LXD's default profile too
PEERS = ("LXD", "virsh", "Vagrant", "raw")

# (row, label) of the table, in order; targets are the acceptance ratios (creature / peer)
ROWS = [
    ("list", "list {listed} stopped containers"),
    ("create", "create"),
    ("start", "start"),
    ("create+start", "create + start"),
    ("kill", "forced stop"),
    ("delete", "delete (stopped)"),
    ("show", "show / info (container)"),
    ("show-lv", "show / info (libvirt domain)"),
    ("list-lv", "list {listed} libvirt domains"),
    ("start-lv", "start a libvirt-qemu machine"),
    ("floor", "command floor (empty home / project)"),
]
TARGETS = {("list", "LXD"): 0.5, ("start", "LXD"): 1.0, ("create+start", "LXD"): 1.2, ("kill", "LXD"): 0.5,
           ("delete", "LXD"): 2.0, ("show", "LXD"): 3.0, ("list-lv", "virsh"): 2.0, ("start-lv", "virsh"): 1.2}


def in_order(tools: list[str], round_: int) -> list[str]:
    """The tools in turn, first to last in even rounds and last to first in odd ones: none always runs after the same one."""
    return list(tools) if round_ % 2 == 0 else list(reversed(tools))


def skip_reason() -> str | None:
    """Why the peer benchmark cannot run here (one line), or None."""
    if os.geteuid() != 0:
        return "needs root (privileged LXC and LXD containers, a private LXD and libvirtd)"
    missing = [tool for tool in ("lxd", "lxc") if which(tool) is None]
    if missing:
        return f"LXD is not installed ({' and '.join(missing)} not found): `make bench-peers` installs lxd, vagrant and vagrant-libvirt from Debian"
    missing = [tool for tool in ("lxc-ls", "lxc-copy", "lxc-start", "unshare", "ip") if which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found (Debian packages lxc, util-linux, iproute2)"
    return None


def libvirt_reason() -> str | None:
    if which("libvirtd") is None or which("virsh") is None:
        return "libvirtd or virsh not found (Debian packages libvirt-daemon-system, libvirt-clients)"
    try:
        import creature_libvirt.private_daemon  # noqa: F401
        import libvirt  # noqa: F401
    except ImportError as exc:
        return f"creature-libvirt or libvirt-python is not installed: {exc}"
    return None


class Bench:
    """One run: the stores of every tool under one folder, the timings, and what was measured besides."""

    def __init__(self, work: Path, sizes: Sizes):
        self.work = work
        self.n = sizes
        self.home = work / "home"  # creature, LXC machines
        self.lvhome = work / "lvhome"  # creature, libvirt-qemu machines
        self.raw = work / "raw"  # the raw lxc-* tools' lxcpath
        self.lxd = PrivateLxd(work / "lxd")
        self.creature = [str(VENV_BIN / "creature"), "--home", str(self.home)]
        self.t = Timings([self.home, self.lvhome])
        self.values: dict[tuple[str, str], float] = {}  # (row, tool) -> median seconds
        self.notes: list[str] = []
        self.memory: list[dict] = []
        self.skipped: dict[str, str] = {}
        self.versions: dict[str, str] = {}

    # ---- the LXC containers: creature, LXD, lxc-*

    def set_up_containers(self) -> None:
        from creature.api import Creature

        subprocess.run([*self.creature, "template", "build", "bb", "--method", "busybox"], check=True, capture_output=True)
        api = Creature(self.home)
        for i in range(self.n.listed):
            api.create({"name": f"m{i:03d}", "driver": "lxc", "template": "bb"})
        api.inventory.close()
        rootfs = self.home / "templates" / "bb" / "rootfs"
        # the raw tools clone (lxc-copy -s: an overlayfs snapshot) a base container with creature's own config (same
        # limits, init, console log) and a copy of the template's rootfs: lxc-copy wants the container's name in its path
        base = self.raw / "base"
        base.mkdir(parents=True, mode=0o700)
        subprocess.run(["cp", "-a", str(rootfs), str(base / "rootfs")], check=True)
        machine = self.home / "machines" / "m000"
        config = [line for line in (machine / "config").read_text().replace(str(machine), str(base)).splitlines()
                  if not line.startswith(("lxc.uts.name", "lxc.rootfs.path"))]
        (base / "config").write_text("\n".join(["lxc.uts.name = base", f"lxc.rootfs.path = dir:{base / 'rootfs'}", *config]) + "\n")
        self.lxd.start(MEMORY, CPUS)
        self.lxd.import_image(rootfs, "bb", self.work / "image")
        for i in range(self.n.listed):
            self.lxd.call("init", "bb", f"c{i:03d}")
        links = subprocess.run([which("ip"), "-o", "link"], capture_output=True, text=True, check=True).stdout.split("\n")
        self.notes.append(f"network interfaces in the run's namespace with LXD up: {[line.split(':')[1].strip() for line in links if line]}")

    def argvs(self, op: str, tool: str, name: str) -> list[list[str]]:
        c, lxc = self.creature, self.lxd.lxc
        raw = ["-P", str(self.raw), "-n", name]
        if tool == "creature":
            create = [*c, "create", name, "--driver", "lxc", "--template", "bb"]
            return {"create": [create], "start": [[*c, "start", name]], "create+start": [create, [*c, "start", name]],
                    "kill": [[*c, "kill", name]], "delete": [[*c, "destroy", name]],
                    "cleanup": [[*c, "destroy", "--force", name]]}[op]
        if tool == "LXD":
            return {"create": [lxc("init", "bb", name)], "start": [lxc("start", name)], "create+start": [lxc("launch", "bb", name)],
                    "kill": [lxc("stop", "--force", name)], "delete": [lxc("delete", name)],
                    "cleanup": [lxc("delete", "--force", name)]}[op]
        copy = [which("lxc-copy"), "-P", str(self.raw), "-n", "base", "-N", name, "-s", "-B", "overlay"]
        start = [which("lxc-start"), *raw, "-d"]
        return {"create": [copy], "start": [start], "create+start": [copy, start], "kill": [[which("lxc-stop"), *raw, "-k"]],
                "delete": [[which("lxc-destroy"), *raw]], "cleanup": [[which("lxc-destroy"), "-f", *raw]]}[op]

    def env(self, tool: str) -> dict | None:
        return self.lxd.env if tool == "LXD" else None

    def in_turn(self, row: str, commands: dict[str, list[str]], rounds: int | None = None, envs: dict | None = None) -> None:
        """Time one command per tool, in turn, rounds times after a warm-up of each."""
        envs = envs or {}
        for i in range((self.n.list_rounds if rounds is None else rounds) + 1):
            for tool in in_order(list(commands), i):
                self.t.time(row, tool, [commands[tool]], envs.get(tool, self.env(tool)), keep=i > 0)
        for tool in commands:
            self.values[(row, tool)] = self.t.median(row, tool)

    def containers(self) -> None:
        machines = str(self.home / "machines")
        self.in_turn("list", {"creature": [*self.creature, "list"], "LXD": self.lxd.lxc("list"),
                              "raw": [which("lxc-ls"), "--fancy", "-P", machines]})
        self.in_turn("show", {"creature": [*self.creature, "show", "m000"], "LXD": self.lxd.lxc("info", "c000"),
                              "raw": [which("lxc-info"), "-P", machines, "-n", "m000"]})
        tools = ("creature", "LXD", "raw")
        for i in range(self.n.rounds + 1):
            name = f"lc{i}"
            for op in ("create", "start", "kill", "delete"):
                for tool in in_order(tools, i):
                    self.t.time(op, tool, self.argvs(op, tool, name), self.env(tool), keep=i > 0)
            name = f"cs{i}"
            for tool in in_order(tools, i):
                self.t.time("create+start", tool, self.argvs("create+start", tool, name), self.env(tool), keep=i > 0)
                self.t.time("cleanup", tool, self.argvs("cleanup", tool, name), self.env(tool), keep=False)
        for op in ("create", "start", "create+start", "kill", "delete"):
            for tool in tools:
                self.values[(op, tool)] = self.t.median(op, tool)

    def container_memory(self) -> None:
        """LXD's processes idle and with containers running; creature's between commands (none) and per container."""
        time.sleep(2)
        idle_pids = self.lxd.processes()
        idle = memory_mib(idle_pids)
        names = [f"c{i:03d}" for i in range(self.n.running)]
        self.lxd.call("start", *names)
        time.sleep(2)
        busy_pids = self.lxd.processes()
        busy = memory_mib(busy_pids)
        self.lxd.call("stop", "--force", *names)
        machines = [f"m{i:03d}" for i in range(self.n.running)]
        self.t.run([*self.creature, "start", *machines], tool="creature")
        time.sleep(2)
        monitors = [int((self.home / "machines" / m / "monitor.pid").read_text()) for m in machines]
        ours = memory_mib(monitors)
        between = creature_processes(self.home)  # the machines run, no creature command does
        creature_rss = memory_mib([r.pid for r in between])
        self.t.run([*self.creature, "kill", *machines], tool="creature")
        per_lxd = [(b - i) / self.n.running for b, i in zip(busy, idle, strict=True)]
        per_monitor = [v / self.n.running for v in ours]
        self.memory += [
            {"label": "RSS between commands", "what": f"between commands ({self.n.listed} containers, {self.n.running} running "
             "for creature)", "creature": creature_rss[0], "creature PSS": creature_rss[1], "LXD": idle[0], "LXD PSS": idle[1],
             "detail": f"LXD: its {len(idle_pids)} process(es) with every container stopped; creature: the "
                       f"{len(between)} creature processes found while its machines ran"},
            {"label": "RSS per running container", "what": "host side, per running container", "creature": per_monitor[0],
             "creature PSS": per_monitor[1], "LXD": per_lxd[0], "LXD PSS": per_lxd[1],
             "detail": f"LXD: growth of its processes ({len(idle_pids)} -> {len(busy_pids)}) with {self.n.running} running, "
                       "per container; creature: the lxc-start monitor of each container (the process raw lxc-start leaves too)"},
        ]
        self.notes.append(f"creature processes while {self.n.running} machines ran, between commands: {len(between)}")

    # ---- libvirt

    def libvirt(self) -> None:
        from creature.api import Creature
        from creature_libvirt.private_daemon import PrivateLibvirtd

        daemon = PrivateLibvirtd(self.work / "libvirt")
        try:
            daemon.start()
            uri = daemon.uri("qemu")
            os.environ["CREATURE_LIBVIRT_QEMU_URI"] = uri
            os.environ["CREATURE_LIBVIRT_LXC_URI"] = daemon.uri("lxc")
            api = Creature(self.lvhome)
            api.templates.build("bb", "busybox")
            for i in range(self.n.listed):
                api.create({"name": f"v{i:03d}", "driver": "libvirt-qemu", "template": "bb"})
            api.inventory.close()
            virsh = [which("virsh"), "-c", uri]
            c = [str(VENV_BIN / "creature"), "--home", str(self.lvhome)]
            self.in_turn("list-lv", {"creature": [*c, "list"], "virsh": [*virsh, "list", "--all"]})
            self.in_turn("show-lv", {"creature": [*c, "show", "v000"], "virsh": [*virsh, "dominfo", "v000"]})
            self.libvirt_start(c, virsh)
            rss, pss = memory_mib([r.pid for r in daemon.records])
            self.memory.append({"label": "RSS libvirtd + virtlogd", "what": f"libvirtd + virtlogd, idle ({self.n.listed + 2} "
                                "defined domains)", "virsh": rss, "virsh PSS": pss, "detail": "the private daemons of this run"})
            self.vagrant(uri)  # while the daemon its Vagrantfile names runs
            cleanup_home(self.lvhome)
        finally:
            daemon.stop()

    def libvirt_start(self, c: list[str], virsh: list[str]) -> None:
        """creature start, virsh start, and the same QEMU by hand; each guest is killed (untimed) before the next tool."""
        from creature.api import Creature

        api = Creature(self.lvhome)
        for name in ("by-creature", "by-virsh"):  # made after the list rows, which list exactly self.n.listed
            api.create({"name": name, "driver": "libvirt-qemu", "template": "bb"})
        api.inventory.close()
        machine = self.lvhome / "machines" / "by-virsh"
        raw = self.work / "qemu"
        raw.mkdir(mode=0o700)
        backing = subprocess.run(["qemu-img", "info", "--output=json", str(machine / "disk.qcow2")], capture_output=True,
                                 text=True, check=True).stdout
        base = json.loads(backing)["full-backing-filename"]
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, str(raw / "disk.qcow2")], check=True)
        argv = qemu_argv_of_domain(machine / "domain.xml", raw / "disk.qcow2", raw / "console.log", raw / "qemu.pid")
        for i in range(self.n.libvirt_rounds + 1):
            for tool in in_order(["creature", "virsh", "raw"], i):
                if tool == "raw":
                    (raw / "qemu.pid").unlink(missing_ok=True)
                    self.t.time("start-lv", "raw", [argv], keep=i > 0)
                    record = ProcessRecord.of(int((raw / "qemu.pid").read_text()))
                    kill_records([record] if record else [])
                    continue
                domain = f"by-{tool}"
                start = [*c, "start", domain] if tool == "creature" else [*virsh, "start", domain]
                self.t.time("start-lv", tool, [start], keep=i > 0)
                self.t.run([*virsh, "destroy", domain])
        for tool in ("creature", "virsh", "raw"):
            self.values[("start-lv", tool)] = self.t.median("start-lv", tool)

    # ---- Vagrant

    def vagrant(self, uri: str | None) -> None:
        if which("vagrant") is None:
            self.skipped["floor"] = "vagrant not found (`make bench-peers` installs it)"
            return
        self.versions["Vagrant"] = tool_version([which("vagrant"), "--version"], dict(os.environ, VAGRANT_CHECKPOINT_DISABLE="1")).removeprefix("Vagrant ")
        project, vhome, empty = self.work / "vagrant", self.work / "vagrant.d", self.work / "empty"
        project.mkdir(mode=0o700)
        provider = f'  config.vm.provider :libvirt do |lv|\n    lv.uri = "{uri}"\n  end\n' if uri else ""
        (project / "Vagrantfile").write_text(f'Vagrant.configure("2") do |config|\n  config.vm.box = "creature-bench"\n{provider}end\n')
        env = dict(os.environ, VAGRANT_HOME=str(vhome), VAGRANT_CHECKPOINT_DISABLE="1", VAGRANT_DEFAULT_PROVIDER="libvirt",
                   VAGRANT_CWD=str(project))
        self.in_turn("floor", {"creature": [str(VENV_BIN / "creature"), "--home", str(empty), "list"],
                               "Vagrant": [which("vagrant"), "status"]}, rounds=self.n.floor_rounds, envs={"Vagrant": env})

    # ---- the report

    def table(self) -> list[dict]:
        table = []
        for row, label in ROWS:
            entry = {"row": row, "operation": label.format(listed=self.n.listed), "creature": self.values.get((row, "creature"))}
            for peer in PEERS:
                value = self.values.get((row, peer))
                if value is not None and entry["creature"] is not None:
                    entry[peer] = value
                    entry[f"creature/{peer}"] = entry["creature"] / value
                    target = TARGETS.get((row, peer))
                    if target is not None:
                        entry.setdefault("targets", []).append(
                            f"creature/{peer} <= {target:g}: {'met' if entry['creature'] / value <= target else 'MISSED'}")
            if row in self.skipped:
                entry["skipped"] = self.skipped[row]
            table.append(entry)
        return table

    def rows(self, table: list[dict]) -> list[dict]:
        """bench/run's rows: one per (operation, peer) pair, the peer's median in the raw column."""
        rows = []
        for entry in table:
            for peer in PEERS:
                if peer in entry:
                    target = TARGETS.get((entry["row"], peer))
                    rows.append({"operation": f"{entry['operation']} vs {peer}", "creature": entry["creature"], "raw": entry[peer],
                                 "ratio": entry[f"creature/{peer}"], "target": f"<= {target:g}" if target else "-"})
        for m in self.memory:
            for peer in ("LXD", "virsh"):
                if peer in m:
                    rows.append({"operation": f"{m['label']} vs {peer}", "creature": m.get("creature"), "raw": m[peer],
                                 "ratio": None, "unit": "MiB", "target": "-"})
        rows.append({"operation": f"creature processes left after {self.t.creature_commands} commands",
                     "creature": len(self.t.leftovers), "raw": None, "ratio": None, "unit": "processes", "target": "0"})
        return rows


def markdown(table: list[dict], memory: list[dict], facts: dict, versions: dict, leftovers: tuple[int, list]) -> str:
    def s(v):
        return f"{v:.4f}" if v is not None and v < 0.01 else f"{v:.3f}" if v is not None else "-"

    def r(v):
        return f"{v:.2f}" if v is not None else "-"

    lines = [f"Median seconds, {facts['date']}, {facts['cpu']} ({facts['cores']} cores, AMX: {', '.join(facts['amx']) or 'none'}), "
             f"kernel {facts['kernel']}; {', '.join(f'{k} {v}' for k, v in versions.items())}.", "",
             "| operation | creature | LXD | virsh | Vagrant | raw lxc-* / qemu | creature/LXD | creature/virsh | creature/raw | target |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for e in table:
        target = "; ".join(e.get("targets", [])) or ("skipped: " + e["skipped"] if "skipped" in e else "-")
        if "Vagrant" in e:
            target = f"creature/Vagrant {r(e['creature/Vagrant'])}"
        lines.append(f"| {e['operation']} | {s(e['creature'])} | {s(e.get('LXD'))} | {s(e.get('virsh'))} | {s(e.get('Vagrant'))} | "
                     f"{s(e.get('raw'))} | {r(e.get('creature/LXD'))} | {r(e.get('creature/virsh'))} | {r(e.get('creature/raw'))} | {target} |")
    lines += ["", "| memory (MiB, RSS; PSS in brackets) | creature | LXD | libvirt | how |", "|---|---|---|---|---|"]
    def mem(m: dict, tool: str) -> str:
        return f"{m[tool]:.1f} ({m[tool + ' PSS']:.1f})" if f"{tool} PSS" in m else f"{m[tool]:.1f}" if tool in m else "-"

    for m in memory:
        lines.append(f"| {m['what']} | {mem(m, 'creature')} | {mem(m, 'LXD')} | {mem(m, 'virsh')} | {m['detail']} |")
    count, found = leftovers
    lines += ["", f"creature processes left running after each of {count} creature commands: {len(found)}"
              + (f" ({'; '.join(found[:5])})" if found else " (target: 0)")]
    return "\n".join(lines) + "\n"


def inside(sizes: Sizes) -> int:
    os.umask(0o077)  # the run's files are root's alone, like creature's own
    subprocess.run([which("ip"), "link", "set", "lo", "up"], check=True)
    work = Path(tempfile.mkdtemp(prefix="crb-peers.", dir="/tmp"))
    bench = Bench(work, sizes)
    facts = machine_facts()
    bench.versions.update({"LXD": tool_version([which("lxd"), "--version"]), "lxc-*": tool_version([which("lxc-start"), "--version"])})
    problems: list[str] = []
    try:
        bench.set_up_containers()
        bench.containers()
        bench.container_memory()
        reason = libvirt_reason()
        if reason is None:
            bench.versions["libvirt"] = tool_version([which("libvirtd"), "--version"]).split()[-1]
            bench.libvirt()
        else:
            for row in ("show-lv", "list-lv", "start-lv"):
                bench.skipped[row] = reason
            bench.vagrant(None)
        bench.t.leftovers += [f"{r.pid} {r.cmdline}" for r in creature_processes(bench.home) + creature_processes(bench.lvhome)]
    finally:
        cleanup_home(bench.home)
        for name in (p.name for p in bench.raw.glob("*") if p.is_dir() and p.name != "base"):
            subprocess.run([which("lxc-destroy"), "-f", "-P", str(bench.raw), "-n", name], capture_output=True)
        problems += bench.lxd.stop()
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(work) in line.split()[4]]
        if mounts:
            problems.append(f"mounts left: {mounts}")
        shutil.rmtree(work, ignore_errors=True)
    for problem in problems:
        print(f"peers: cleanup: {problem}", file=sys.stderr)
    table = bench.table()
    text = markdown(table, bench.memory, facts, bench.versions, (bench.t.creature_commands, bench.t.leftovers))
    for note in bench.notes:
        print(note)
    print(text)
    report("peers", bench.rows(table), table=table, memory=bench.memory, machine=facts, versions=bench.versions, notes=bench.notes)
    (RESULTS / "peers.md").write_text(text)
    return 1 if problems or bench.t.leftovers else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Sizes()
    for field in ("rounds", "list_rounds", "libvirt_rounds", "floor_rounds", "listed", "running"):
        parser.add_argument(f"--{field.replace('_', '-')}", type=int, default=getattr(default, field), metavar="N",
                            help=f"default {getattr(default, field)}")
    args = parser.parse_args()
    sizes = Sizes(**{k: v for k, v in vars(args).items()})
    if min(vars(args).values()) < 1 or sizes.running > sizes.listed:
        parser.error("every count must be at least 1, and --running at most --listed")
    if os.environ.get(IN_NETNS) == "1":
        return inside(sizes)
    reason = skip_reason()
    if reason:
        print(f"peers: skipped: {reason}")
        return 0
    # a network namespace of the run's own: no peer (LXD fetches instance types at start) reaches beyond it
    os.execve(which("unshare"), [which("unshare"), "--net", "--", sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]],
              dict(os.environ, **{IN_NETNS: "1"}))


if __name__ == "__main__":
    sys.exit(main())
