#!/usr/bin/env python3
"""`creature --help` and `creature list` over 100 stopped LXC machines, against `lxc-ls --fancy` on the same containers."""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import VENV_BIN, report, time_command, time_commands  # noqa: E402
from creature.api import Creature  # noqa: E402
from creature.procs import which  # noqa: E402
from creature.testing_cleanup import cleanup_home  # noqa: E402


def main() -> None:
    creature = str(VENV_BIN / "creature")
    home = Path(tempfile.mkdtemp(prefix="crb.", dir="/tmp"))
    try:
        help_time = time_command([creature, "--help"], runs=15)
        api = Creature(home)
        api.templates.build("bb", "busybox")
        for i in range(100):
            api.create({"name": f"m{i:03d}", "driver": "lxc", "template": "bb"})
        list_time, lxc_ls = time_commands([[creature, "--home", str(home), "list"],
                                           [which("lxc-ls"), "--fancy", "-P", str(home / "machines")]], runs=15)
        report("cli_speed", [
            {"operation": "creature --help", "creature": help_time, "raw": None, "ratio": None, "target": "< 0.25 s median"},
            {"operation": "list, 100 stopped LXC machines", "creature": list_time, "raw": lxc_ls,
             "ratio": list_time / lxc_ls, "target": "ratio <= 10 (raw: lxc-ls --fancy)"},
        ])
    finally:
        cleanup_home(home)


if __name__ == "__main__":
    main()
