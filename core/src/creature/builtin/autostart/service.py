"""The host service: a systemd unit or a sysv init script that runs `host up` at boot and `host down` at shutdown."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from creature.errors import InputError
from creature.home import write_private

MARKER = "written by `creature host install-service`"
INITS = ("systemd", "sysv")
# Time to force what ignored the graceful stop, and to stop the networks, after host down's timeout.
STOP_MARGIN = 60

SYSTEMD_UNIT = """\
# {marker}
[Unit]
Description=creature machines: autostart at boot, stop at shutdown
Wants=network-online.target
After=network-online.target remote-fs.target local-fs.target time-sync.target
# stopped before the host goes down, and (being After= them) before networking and remote filesystems stop
Conflicts=shutdown.target
Before=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={command} host up --restore
ExecStop={command} host down --timeout {timeout:g}
TimeoutStartSec=30min
TimeoutStopSec={stop_timeout}
# lxc and the hypervisors manage the cgroups of the machines this service starts
Delegate=yes

[Install]
WantedBy=multi-user.target
"""

SYSV_SCRIPT = """\
#!/bin/sh
# {marker}
### BEGIN INIT INFO
# Provides:          creature
# Required-Start:    $network $remote_fs $local_fs
# Required-Stop:     $network $remote_fs $local_fs
# Should-Start:      $time
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: creature machines: autostart at boot, stop at shutdown
# Description:       Starts the machines marked for autostart (and those running at the
#                    last shutdown) by ascending order; stops every machine at shutdown.
### END INIT INFO

case "$1" in
  start)
    {command} host up --restore
    ;;
  stop)
    {command} host down --timeout {timeout:g}
    ;;
  restart|force-reload)
    {command} host down --timeout {timeout:g}
    {command} host up --restore
    ;;
  status)
    {command} host status
    ;;
  *)
    echo "Usage: $0 {{start|stop|restart|force-reload|status}}" >&2
    exit 3
    ;;
esac
"""


def creature_command(home: Path) -> str:
    """The command line the service runs: this installation's creature, on this home."""
    script = Path(sys.executable).parent / "creature"
    argv = [str(script)] if os.access(script, os.X_OK) else [sys.executable, "-m", "creature"]
    return shlex.join([*argv, "--home", str(home)])


def default_init() -> str:
    """systemd when it runs this host (it made /run/systemd/system), else sysv."""
    return "systemd" if Path("/run/systemd/system").is_dir() else "sysv"


def render(init: str, home: Path, timeout: float) -> str:
    """The unit file or init script text."""
    if init not in INITS:
        raise InputError(f"unknown init system {init!r} (known: {', '.join(INITS)})")
    values = {"marker": MARKER, "command": creature_command(home), "timeout": timeout,
              "stop_timeout": int(timeout) + STOP_MARGIN}
    return (SYSTEMD_UNIT if init == "systemd" else SYSV_SCRIPT).format(**values)


def target(init: str, root: Path) -> Path:
    """Where the service goes below root: /etc/systemd/system/creature.builtin.autostart.service or /etc/init.d/creature."""
    rel = "etc/systemd/system/creature.builtin.autostart.service" if init == "systemd" else "etc/init.d/creature"
    return root / rel


def install(init: str, home: Path, timeout: float, output: Path | None = None, root: Path = Path("/"),
            force: bool = False) -> Path:
    """Write the service file; a file there that creature did not write is kept unless force."""
    text = render(init, home, timeout)
    path = output if output is not None else target(init, root)
    if path.is_dir():
        raise InputError(f"{path} is a folder: --output wants a file path")
    if path.exists() and not force:
        try:
            ours = MARKER in path.read_text(errors="replace")
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror}") from None
        if not ours:
            raise InputError(f"{path} exists and was not written by creature: remove it or pass --force")
    if not path.parent.is_dir():
        if output is not None:
            raise InputError(f"folder {path.parent} does not exist")
        path.parent.mkdir(mode=0o700, parents=True)
    # an init script must be executable; neither needs to be readable by others
    write_private(path, text, 0o700 if init == "sysv" else 0o600)
    return path
