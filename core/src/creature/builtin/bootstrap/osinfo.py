"""What a root filesystem holds: its OS, its init and how to halt it, its kernel and initrd."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

# the signal LXC sends the container's init to shut it down cleanly
HALT_SIGNALS = {"systemd": "SIGRTMIN+3", "sysvinit": "SIGPWR", "busybox": "SIGUSR2"}


def os_release(rootfs: Path) -> dict[str, str]:
    """The guest's /etc/os-release (or /usr/lib/os-release) as a dict."""
    for rel in ("etc/os-release", "usr/lib/os-release"):
        path = rootfs / rel
        if path.is_symlink():  # an absolute link points into the guest, not the host
            target = os.readlink(path)
            path = rootfs / target.lstrip("/") if target.startswith("/") else path.parent / target
        if path.is_file():
            values = {}
            for line in path.read_text(errors="replace").splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip() and not key.startswith("#"):
                    values[key.strip()] = value.strip().strip("\"'")
            return values
    return {}


def init_system(rootfs: Path) -> str | None:
    """systemd, sysvinit or busybox, judged by what the guest's /sbin/init is."""
    init = rootfs / "sbin/init"
    if not init.is_symlink() and not init.exists():
        init = rootfs / "usr/sbin/init"  # merged /usr: /sbin is a link to usr/sbin
    if init.is_symlink():
        target = os.readlink(init)
        if "systemd" in target:
            return "systemd"
        if target.endswith("busybox"):
            return "busybox"
    elif init.is_file():
        with open(init, "rb") as f:
            head = f.read(1 << 20)
        if b"systemd" in head and b"sysvinit" not in head:
            return "systemd"
        return "sysvinit"
    return None


def version_order(path: Path) -> list:
    """Sort key for kernel files: numbers compared as numbers (vmlinuz-6.1.0-10 after vmlinuz-6.1.0-9)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", path.name)]


def boot_files(rootfs: Path) -> dict[str, str]:
    """Its newest kernel and matching initrd under /boot, relative to rootfs (the store makes them absolute)."""
    boot = rootfs / "boot"
    kernels = sorted(boot.glob("vmlinuz-*"), key=version_order) if boot.is_dir() else []
    if not kernels:
        return {}
    kernel = kernels[-1]
    found = {"kernel": f"boot/{kernel.name}"}
    initrd = boot / ("initrd.img-" + kernel.name.removeprefix("vmlinuz-"))
    if initrd.exists():
        found["initrd"] = f"boot/{initrd.name}"
    return found


def describe(rootfs: Path) -> dict[str, Any]:
    """Template metadata for a built rootfs: os, version, init, init_system, halt_signal, kernel, initrd."""
    release = os_release(rootfs)
    system = init_system(rootfs)
    meta: dict[str, Any] = {
        "os": release.get("ID", "unknown"),
        "version": release.get("VERSION_ID", release.get("VERSION", "")),
        "init": "/sbin/init",
        "init_system": system,
        "halt_signal": HALT_SIGNALS.get(system or "", "SIGPWR"),
    }
    meta.update(boot_files(rootfs))
    return meta
