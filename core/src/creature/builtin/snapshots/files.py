"""Snapshots kept as files (drivers reach these through creature.sdk): copies that share blocks where the
filesystem can, and a restore that swaps the saved copy in with one atomic exchange."""

from __future__ import annotations

import os
from pathlib import Path

from creature.checkpoints import checkpoint
from creature.errors import CreatureError
from creature.procs import run
from creature.records import Machine
from creature.templates import remove_tree

RENAME_EXCHANGE = 2
AT_FDCWD = -100


def copy_into(source: Path, folder: Path) -> Path:
    """Copy a file or folder into folder, keeping owners, modes, links and holes (reflinked where the filesystem can)."""
    # --sparse=auto (cp's default): a sparse disk file stays sparse, without scanning every block of the others for zeros
    run(["cp", "-a", "--reflink=auto", str(source), str(folder)], timeout=3600)
    return folder / source.name


def exchange(a: Path, b: Path) -> None:
    """Swap two paths of one filesystem in one step (renameat2 RENAME_EXCHANGE): a crash leaves one or the other."""
    import ctypes  # here: every driver with snapshots imports this module, most commands never swap
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise CreatureError(f"cannot exchange {a} and {b}: {os.strerror(err)}")


def swap_in(machine: Machine, saved: Path, target: Path) -> None:
    """Make target (a file or folder of the machine) a copy of saved, all at once.

    The copy is made beside the snapshots first (a crash leaves a .swap folder for doctor, and target untouched),
    then exchanged with target in one rename; the old content goes with the .swap folder.
    """
    from creature.builtin.snapshots.store import work_folder

    work = work_folder(machine, "swap")
    work.mkdir(mode=0o700)
    try:
        staged = copy_into(saved, work)
        if target.name != saved.name:
            staged = staged.rename(work / target.name)
        checkpoint("restore.swap")
        if target.exists() or target.is_symlink():
            exchange(staged, target)
        else:
            os.rename(staged, target)
    finally:
        remove_tree(work)


class CopySnapshots:
    """Driver methods for snapshots kept as copies of the machine's disk file or root folder (mix in before Driver).

    The driver names what to copy in snapshot_paths(machine); one that can snapshot a running machine
    consistently (snapshot_running) also gives snapshot_frozen(machine), a context manager holding the guest still.
    """

    def snapshot_paths(self, machine: Machine) -> list[Path]:
        """The files or folders that hold the machine's disks, each copied whole into a snapshot."""
        raise NotImplementedError

    def snapshot_frozen(self, machine: Machine):
        """A context manager during which the running guest changes nothing (a freezer cgroup, a paused VM)."""
        raise NotImplementedError

    def snapshot_create(self, machine: Machine, snap: str, folder: Path, running: bool) -> dict:
        """Copy each of snapshot_paths into folder (running: while snapshot_frozen holds the guest)."""
        from contextlib import nullcontext

        with self.snapshot_frozen(machine) if running else nullcontext():
            for path in self.snapshot_paths(machine):
                copy_into(path, folder)
        return {"memory": False}

    def snapshot_restore(self, machine: Machine, snap: str, folder: Path, memory: bool) -> None:
        """Swap each saved copy in for the machine's own, one atomic exchange each."""
        for path in self.snapshot_paths(machine):
            swap_in(machine, folder / path.name, path)

    def snapshot_remove(self, machine: Machine, snap: str, folder: Path) -> None:
        """Nothing lives outside the snapshot's folder."""

    def snapshot_list(self, machine: Machine) -> list[str]:
        """No native snapshots: every one is a folder of copies."""
        return []
