"""Snapshot operations on one home's machines: create, list, restore, remove, and what doctor finds of them.

The driver does the hypervisor's part behind the snapshot capability (Driver.snapshot_*); this module does the
bookkeeping every driver shares (store.py): the per-machine lock, state rules, records, and all-or-nothing.
"""

from __future__ import annotations

import json
import os

from creature.builtin.snapshots import store
from creature.builtin.snapshots.store import Snapshot
from creature.checkpoints import checkpoint
from creature.drivers import require
from creature.errors import CreatureError, InputError
from creature.home import write_private
from creature.names import check_name
from creature.state import ADDRESSED
from creature.templates import remove_tree, tree_size


class Snapshots:
    """The snapshots of the machines of one home (api.snapshots)."""

    def __init__(self, api):
        self.api = api

    def _driver(self, machine):
        from creature.builtin.remote.hosts import host_uri
        from creature.builtin.snapshots.files import CopySnapshots

        driver = self.api.usable_driver(machine.driver)
        require(driver, "snapshot", "snapshots")
        if isinstance(driver, CopySnapshots) and host_uri(self.api.home):
            # its snapshots are copies of files on the machine's own host: made there, not through a URI
            raise InputError(f"driver {driver.name!r} snapshots by copying the machine's files: run it on that host")
        return driver

    def list(self, name: str) -> list[Snapshot]:
        """The machine's complete snapshots, oldest first."""
        return store.snapshots(self.api.machine(name))

    def create(self, name: str, snap: str, description: str = "") -> Snapshot:
        """Snapshot a machine: stopped, its disks; running, where the driver can do it consistently (with memory if it can)."""
        check_name("snapshot", snap)
        machine = self.api.machine(name)
        driver = self._driver(machine)
        with self.api.home.lock("machine", name):
            machine = self.api.machine(name)
            if store.folder(machine, snap).exists():
                raise InputError(f"machine {name!r} already has a snapshot named {snap!r}")
            running = driver.state(machine) in ADDRESSED
            if running and not driver.capabilities.snapshot_running:
                raise InputError(f"driver {driver.name!r} cannot snapshot a running machine consistently: stop {name!r} first"
                                 " (docs/snapshots.md says why)")
            if snap in driver.snapshot_list(machine):
                raise CreatureError(f"{driver.name} holds a snapshot {snap!r} of {name!r} that creature has no record of"
                                    " (an interrupted snapshot): run `creature doctor --fix`")
            first = not store.root(machine).exists()
            work = store.work_folder(machine, "new", snap)
            work.mkdir(mode=0o700)
            made = False
            try:
                checkpoint("snapshot.staging")
                made = True
                result = driver.snapshot_create(machine, snap, work, running) or {}
                checkpoint("snapshot.native")
                snapshot = store.record(machine, snap, size=tree_size(work) + int(result.get("size", 0)),
                                        memory=bool(result.get("memory")), running=running, description=description)
                write_private(work / store.RECORD, json.dumps(snapshot.to_dict(), indent=1))
                checkpoint("snapshot.recorded")
                os.rename(work, store.folder(machine, snap))
            except BaseException:
                if made:
                    try:
                        driver.snapshot_remove(machine, snap, work)  # the native half, if it was made
                    except Exception:  # noqa: S110 - the first error is the one to report; doctor finds the rest
                        pass
                remove_tree(work)
                if first:  # a refused first snapshot leaves the machine as it found it
                    store.root(machine).rmdir()
                raise
            self.api.inventory.add_event(name, "snapshot", snap)
            return snapshot

    def restore(self, name: str, snap: str) -> Snapshot:
        """Put the machine back to snap: disk snapshots onto a stopped machine; one with memory leaves it running from there."""
        machine = self.api.machine(name)
        driver = self._driver(machine)
        with self.api.home.lock("machine", name):
            machine = self.api.machine(name)
            snapshot = store.get(machine, snap)
            running = driver.state(machine) in ADDRESSED
            if running and not snapshot.memory:
                raise CreatureError(f"machine {name!r} is running: stop it before restoring {snap!r}, which holds no memory")
            checkpoint("restore.before")
            if snapshot.memory and not running:
                if machine.spec.nics:
                    self.api.plugins.call("creature_prepare_start", api=self.api, machine=machine)
                driver.plug_nics(machine)
                try:
                    driver.snapshot_restore(machine, snap, store.folder(machine, snap), True)
                except BaseException:
                    driver.unplug_nics(machine)
                    raise
                self.api._event(machine, "started", f"from snapshot {snap}")
            else:
                driver.snapshot_restore(machine, snap, store.folder(machine, snap), snapshot.memory)
            self.api.inventory.add_event(name, "restored", snap)
            return snapshot

    def remove(self, name: str, snap: str) -> None:
        """Delete a snapshot: it leaves the listing first, then its native part and files go."""
        machine = self.api.machine(name)
        driver = self._driver(machine)
        with self.api.home.lock("machine", name):
            machine = self.api.machine(name)
            store.get(machine, snap)
            work = store.work_folder(machine, "rm", snap)
            os.rename(store.folder(machine, snap), work)
            checkpoint("snapshot.unlisted")
            driver.snapshot_remove(machine, snap, work)
            remove_tree(work)
            self.api.inventory.add_event(name, "snapshot-removed", snap)

    def export(self, name: str, output: str, compression: str = "zstd") -> dict:
        """Write a stopped machine to one archive ('-': stdout); see archive.py."""
        from creature.builtin.snapshots.archive import export

        return export(self.api, name, output, compression)

    def import_(self, archive: str, name: str | None = None, keep_macs: bool = False):
        """Recreate an exported machine in this home (new MACs unless keep_macs); see archive.py."""
        from creature.builtin.snapshots.archive import import_

        return import_(self.api, archive, name, keep_macs)

    def leftovers(self, fix: bool = False) -> list[dict]:
        """Interrupted snapshot work of every machine (doctor): work folders, and native snapshots with no record."""
        problems = []
        for machine in self.api.inventory.machines():
            if not machine.dir.is_dir() or self.api.home.is_locked("machine", machine.name):
                continue
            driver = None
            if machine.driver in self.api.registry:
                driver = self.api.driver(machine.driver)
                if not driver.capabilities.snapshot or not self.api.probe(machine.driver).usable:
                    driver = None
            complete = {s.name for s in store.snapshots(machine)}
            for path in store.leftovers(machine):
                problems.append({"kind": "snapshot", "path": str(path),
                                 "problem": f"left by interrupted snapshot work on {machine.name!r}"})
                if fix:
                    snap = store.work_snap(path) if path.name.startswith(".") else path.name
                    if driver is not None and snap and snap not in complete:
                        driver.snapshot_remove(machine, snap, path)
                    remove_tree(path)
            for snap in (driver.snapshot_list(machine) if driver is not None else []):
                if snap not in complete and not any(store.work_snap(p) == snap for p in store.leftovers(machine)):
                    problems.append({"kind": "snapshot", "path": f"{machine.dir} ({driver.name} snapshot {snap})",
                                     "problem": f"native snapshot {snap!r} of {machine.name!r} with no record"})
                    if fix:
                        driver.snapshot_remove(machine, snap, store.folder(machine, f".gone.{snap}"))
        return problems
