#!/usr/bin/env python3
"""`creature list` over 200 defined libvirt-qemu domains, against `virsh list --all` on the same daemon.

Starts its own private libvirtd (creature_libvirt.private_daemon), stopped by pid at the end.
Also prints the libvirt calls one listing makes (in-process), which stay constant.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import VENV_BIN, report, time_commands  # noqa: E402
from creature.procs import which  # noqa: E402

DOMAINS = 200


def main() -> None:
    from creature_libvirt.private_daemon import PrivateLibvirtd

    root = Path(tempfile.mkdtemp(prefix="crb-lv.", dir="/tmp"))
    home = Path(tempfile.mkdtemp(prefix="crb.", dir="/tmp"))
    daemon = PrivateLibvirtd(root)
    os.environ["CREATURE_LIBVIRT_QEMU_URI"] = uri = daemon.uri("qemu")
    try:
        daemon.start()
        from creature.api import Creature
        from creature_libvirt.connection import Connection

        api = Creature(home)
        api.templates.build("bb", "busybox")
        for i in range(DOMAINS):
            api.create({"name": f"m{i:03d}", "driver": "libvirt-qemu", "template": "bb", "memory": "64M"})
        before = Connection.calls.copy()
        api.list_machines()
        print(f"libvirt calls for one listing of {DOMAINS} domains: {dict(Connection.calls - before)}")
        creature = [str(VENV_BIN / "creature"), "--home", str(home), "list"]
        list_time, virsh = time_commands([creature, [which("virsh"), "-c", uri, "list", "--all"]], runs=9)
        report("libvirt_list", [
            {"operation": f"list, {DOMAINS} defined libvirt-qemu domains", "creature": list_time, "raw": virsh,
             "ratio": list_time / virsh, "target": "ratio <= 10 (raw: virsh list --all)"},
        ])
        for m in api.inventory.machines():
            api.destroy(m.name, force=True)
    finally:
        daemon.stop()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
