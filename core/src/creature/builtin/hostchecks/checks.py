"""The kernel features the hypervisors here rely on: namespaces, cgroups, veth and bridge links, tun, overlayfs."""

from __future__ import annotations

import os
from pathlib import Path


def kernel_checks(host) -> list:
    """The kernel features hypervisors here rely on: namespaces, cgroups, veth, bridge, tun, overlayfs."""
    from creature.drivers import Check

    checks = []
    missing = [ns for ns in ("mnt", "uts", "ipc", "pid", "net", "user", "cgroup") if not Path(f"/proc/self/ns/{ns}").exists()]
    checks.append(Check(name="namespaces", ok=not missing,
                        reason=f"missing namespaces: {', '.join(missing)}" if missing else "mnt, uts, ipc, pid, net, user, cgroup namespaces present"))
    v1, v2 = host.cgroup_v1_controllers, host.cgroup_v2_controllers
    memory = "memory" in v1 or "memory" in v2
    layout = "hybrid" if v1 and Path("/sys/fs/cgroup/unified").is_dir() else ("v1" if v1 else "v2")
    checks.append(Check(name="cgroups", ok=memory,
                        reason=f"cgroup {layout}: v1 controllers {','.join(sorted(v1)) or 'none'}; v2 controllers {','.join(sorted(v2)) or 'none'}"
                        + ("" if memory else "; no memory controller (memory limits cannot be applied)")))
    for kind, error in link_types(host.is_root).items():
        checks.append(Check(name=kind, ok=not error, reason=f"{kind} link created in a scratch network namespace" if not error else f"cannot create a {kind} link: {error}"))
    tun = Path("/dev/net/tun")
    tun_ok, tun_reason = False, "/dev/net/tun is missing"
    if tun.exists():
        try:
            os.close(os.open(tun, os.O_RDWR))
            tun_ok, tun_reason = True, "/dev/net/tun opens"
        except OSError as exc:
            tun_reason = f"/dev/net/tun exists but cannot be opened: {exc.strerror}"
    checks.append(Check(name="tun", ok=tun_ok, reason=tun_reason))
    overlay = "overlay" in host.filesystems
    checks.append(Check(name="overlayfs", ok=overlay, reason="overlay filesystem available" if overlay else "no overlay filesystem in /proc/filesystems (clones fall back to copies)"))
    return checks


def link_types(is_root: bool) -> dict[str, str]:
    """Which link types the kernel creates, tried for real in a throwaway network namespace ("" where it worked)."""
    from creature.procs import run, which

    unshare, ip = which("unshare"), which("ip")
    if not (unshare and ip and is_root):
        reason = "needs root, unshare and ip (iproute2) to try"
        return {"veth": reason, "bridge": reason}
    results = {}
    for kind, cmd in (("veth", "link add cv0 type veth peer name cv1"), ("bridge", "link add cb0 type bridge")):
        proc = run([unshare, "--net", "--", ip, "-batch", "-"], input=cmd + "\n", check=False, timeout=10)
        results[kind] = "" if proc.returncode == 0 else (proc.stderr.strip() or f"ip exited {proc.returncode}")
    return results
