"""Repairs: leftovers of interrupted work, and rebuilding a damaged inventory from the machine folders."""

from __future__ import annotations

import json
import os
import time

from creature.inventory import Inventory
from creature.records import Machine, MachineSpec, Network, Template
from creature.templates import remove_tree


def rebuild_inventory(api) -> dict:
    """Move a damaged inventory aside and rebuild it from the template.json and machine.json in each folder."""
    home = api.home
    api.inventory.close()
    moved = None
    if home.inventory.exists():
        moved = home.inventory.with_name(f"inventory.sqlite.broken-{int(time.time())}")
        os.rename(home.inventory, moved)
        for suffix in ("-wal", "-shm"):
            side = home.inventory.with_name("inventory.sqlite" + suffix)
            if side.exists():
                os.rename(side, moved.with_name(moved.name + suffix))
    api.inventory = Inventory(home.inventory)
    recovered = {"templates": [], "networks": [], "machines": [], "skipped": [], "moved_aside": str(moved) if moved else None}
    # each file was written from validated input, but it may be damaged: whatever does not load is skipped, named
    for kind, pattern, load, add in (
        ("templates", "templates/*/template.json", lambda d, p: Template.from_dict(d), api.inventory.add_template),
        ("networks", "networks/*/network.json", lambda d, p: Network.from_dict(d), api.inventory.add_network),
        ("machines", "machines/*/machine.json", lambda d, p: Machine(spec=MachineSpec.parse(d["spec"]), dir=p.parent,
                                                                     data=d["data"], created=d["created"]),
         api.inventory.add_machine),
    ):
        for path in sorted(home.root.glob(pattern)):
            try:
                add(load(json.loads(path.read_text()), path))
                recovered[kind].append(path.parent.name)
            except Exception as exc:
                recovered["skipped"].append(f"{path}: {exc}")
    return recovered


def find_leftovers(api, fix: bool = False) -> list[dict]:
    """Find (and with fix, remove) leftovers of interrupted work: staging folders, orphan folders, rows without files."""
    home, problems = api.home, []
    for entry in sorted(home.staging.iterdir()):
        kind, _, rest = entry.name.partition(".")
        name, _, pid = rest.rpartition(".")
        if kind in ("machine", "template", "export", "import") and home.is_locked("template" if kind == "template" else "machine", name):
            continue  # being made right now
        problems.append({"kind": "staging", "path": str(entry), "problem": f"left by an interrupted {kind} build of {name!r}"})
        if fix:
            remove_tree(entry)
    known = set(api.inventory.machine_names())
    for entry in sorted(home.machines.iterdir()):
        if entry.name not in known and not home.is_locked("machine", entry.name):
            problems.append({"kind": "orphan", "path": str(entry), "problem": "machine folder with no inventory entry"})
            if fix:
                remove_tree(entry)
    for machine in api.inventory.machines():
        if not machine.dir.is_dir():
            problems.append({"kind": "missing-files", "path": str(machine.dir), "problem": f"machine {machine.name!r} has no folder; its definition is kept"})
    templates = {t.name for t in api.inventory.templates()}
    for entry in sorted(home.templates.iterdir()):
        if entry.name not in templates and not home.is_locked("template", entry.name):
            problems.append({"kind": "orphan", "path": str(entry), "problem": "template folder with no inventory entry"})
            if fix:
                remove_tree(entry)
    from creature.builtin.snapshots.snapshots import Snapshots

    problems += Snapshots(api).leftovers(fix)
    for p in problems:
        p["fixed"] = fix and p["kind"] != "missing-files"
    return problems
