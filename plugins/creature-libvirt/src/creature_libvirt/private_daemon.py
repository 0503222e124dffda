"""A private virtlogd + libvirtd for tests and benchmarks: its own config, state and sockets under one folder.

The daemons run in a mount namespace where the folder is bind-mounted over /etc/libvirt, /run/libvirt,
/var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt, so nothing they define outlives the folder
and the host's own libvirt (if any) is untouched; /sys/fs/cgroup/unified is unmounted there because
libvirt LXC cannot work with the empty cgroup2 of a hybrid layout. With `netns`, the daemons also run
in that network namespace and listen on TCP (no authentication: the namespace is the test's own).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from creature.sdk import CreatureError, ProcessRecord, run, which

BINDS = {"etc": "/etc/libvirt", "run": "/run/libvirt", "lib": "/var/lib/libvirt", "log": "/var/log/libvirt",
         "cache": "/var/cache/libvirt"}


class PrivateLibvirtd:
    """virtlogd and libvirtd started by us under root, stopped by pid (exactly the processes started)."""

    def __init__(self, root: Path, netns: str | None = None, listen_addr: str | None = None):
        self.root = Path(root)
        self.netns = netns
        self.listen_addr = listen_addr
        self.records: list[ProcessRecord] = []

    @property
    def socket(self) -> Path:
        return self.root / "run" / "libvirt-sock"

    def uri(self, driver: str) -> str:
        """The URI of this daemon for driver (qemu or lxc): over TCP in a namespace, else its unix socket."""
        if self.listen_addr:
            return f"{driver}+tcp://{self.listen_addr}/system"
        return f"{driver}:///system?socket={self.socket}"

    def _prepare(self) -> None:
        for name in BINDS:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        etc = self.root / "etc"
        if not (etc / "qemu.conf").exists():
            shutil.copytree("/etc/libvirt", etc, dirs_exist_ok=True, symlinks=True)
            # no libvirt network comes up by itself: the host's addresses stay the host's
            shutil.rmtree(etc / "qemu" / "networks" / "autostart", ignore_errors=True)
        conf = ['unix_sock_group = "root"', 'unix_sock_rw_perms = "0700"', "log_outputs = \"3:stderr\""]
        if self.listen_addr:
            conf += ["listen_tls = 0", "listen_tcp = 1", 'auth_tcp = "none"', f'listen_addr = "{self.listen_addr}"']
        (self.root / "libvirtd.conf").write_text("\n".join(conf) + "\n")

    def start(self, timeout: float = 60) -> None:
        missing = [p for p in ("libvirtd", "virtlogd", "unshare") if which(p) is None]
        if missing:
            raise CreatureError(f"{', '.join(missing)} not found (Debian packages libvirt-daemon-system, util-linux)")
        self._prepare()
        for stale in (self.socket, self.root / "libvirtd.pid", self.root / "virtlogd.pid"):  # left by a previous run
            stale.unlink(missing_ok=True)
        Path("/var/log/libvirt").mkdir(parents=True, exist_ok=True)
        argv = [which("unshare"), "--mount", "--propagation", "private", "--",
                sys.executable, "-m", "creature_libvirt.private_daemon", str(self.root), self.listen_addr or ""]
        if self.netns:
            argv = [which("ip"), "netns", "exec", self.netns, *argv]
        log = open(self.root / "libvirtd.log", "ab")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while not (self.socket.exists() and (self.root / "libvirtd.pid").exists()):
            if proc.poll() is not None or time.monotonic() > deadline:
                self._record_pids()
                self.stop()
                tail = (self.root / "libvirtd.log").read_text(errors="replace")[-800:]
                raise CreatureError(f"private libvirtd did not come up: {tail}")
            time.sleep(0.05)
        self._record_pids()

    def _record_pids(self) -> None:
        for name in ("virtlogd.pid", "libvirtd.pid"):
            try:
                record = ProcessRecord.of(int((self.root / name).read_text().strip()))
            except (OSError, ValueError):
                continue
            if record is not None and record not in self.records:
                self.records.append(record)

    def guest_pids(self) -> list[int]:
        """Hypervisor processes this daemon started (QEMU, libvirt_lxc), from its own pid files."""
        pids = []
        for pidfile in [*(self.root / "run").glob("qemu/*.pid"), *(self.root / "run").glob("lxc/*.pid")]:
            try:
                pids.append(int(pidfile.read_text().strip()))
            except (OSError, ValueError):
                pass
        return pids

    def stop(self, guests: bool = True) -> None:
        """SIGTERM libvirtd then virtlogd (SIGKILL after 5 s); with guests, first kill what it started."""
        if guests:
            for pid in self.guest_pids():
                record = ProcessRecord.of(pid)
                if record is not None:
                    os.kill(pid, signal.SIGKILL)
        for record in reversed(self.records):
            if record.alive():
                os.kill(record.pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while record.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            if record.alive():
                os.kill(record.pid, signal.SIGKILL)
        self.records = []


def _inside(root: Path, listen_addr: str) -> None:
    """Run in the new mount namespace: bind the private folders, hide cgroup2, start virtlogd, become libvirtd."""
    for name, target in BINDS.items():
        Path(target).mkdir(parents=True, exist_ok=True)
        run(["mount", "--bind", str(root / name), target])
    if os.path.ismount("/sys/fs/cgroup/unified"):
        run(["umount", "/sys/fs/cgroup/unified"])
    run([which("virtlogd"), "--daemon", "--pid-file", str(root / "virtlogd.pid")])
    argv = [which("libvirtd"), "--pid-file", str(root / "libvirtd.pid"), "--config", str(root / "libvirtd.conf")]
    if listen_addr:
        argv.append("--listen")
    os.execv(argv[0], argv)


if __name__ == "__main__":
    _inside(Path(sys.argv[1]), sys.argv[2])
