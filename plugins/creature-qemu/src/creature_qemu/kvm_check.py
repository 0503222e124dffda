"""The kvm driver's probe: cheap hints first, then a real vCPU run in a child process (cached per boot)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from creature.sdk import Check, CreatureError, HostFacts, run, write_private

from creature_qemu.kernel import qemu_cache

DEVICE = Path("/dev/kvm")
KVM_MODULES = ("kvm", "kvm_intel", "kvm_amd", "kvm_pvm")


def hints(host: HostFacts) -> str:
    """What the CPU flags and loaded modules say about the KVM behind /dev/kvm."""
    loaded = [m for m in KVM_MODULES if Path("/sys/module", m).is_dir()]
    flags = sorted(host.cpu_flags & {"vmx", "svm"})
    text = f"CPU flags: {', '.join(flags) or 'no vmx/svm'}; modules: {', '.join(loaded) or 'none'}"
    if "kvm_pvm" in loaded:
        text += " (kvm_pvm: KVM-PVM, a software layer)"
    return text


def _cache_key() -> str:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = "unknown"
    loaded = [m for m in KVM_MODULES if Path("/sys/module", m).is_dir()]
    return f"{boot}/{','.join(loaded)}/{DEVICE.stat().st_ino if DEVICE.exists() else 0}"


def vcpu_runs() -> tuple[bool, str]:
    """Run the vCPU test (creature_qemu.kvm_probe) in a child under its own 0.5 s alarm; remembered per boot."""
    cache = qemu_cache() / "kvm-probe.json"
    key = _cache_key()
    try:
        saved = json.loads(cache.read_text())
        if saved.get("key") == key:
            return bool(saved["ok"]), str(saved["reason"])
    except (OSError, ValueError, KeyError):
        pass
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    try:
        proc = run([sys.executable, "-m", "creature_qemu.kvm_probe"], check=False, timeout=2, env=env)
        last_error = (proc.stderr.strip().splitlines() or [f"the KVM test exited {proc.returncode} without a word"])[-1]
        ok, reason = proc.returncode == 0, proc.stdout.strip() or last_error
    except CreatureError:
        ok, reason = False, "the KVM test vCPU process did not end within 2 s"
    write_private(cache, json.dumps({"key": key, "ok": ok, "reason": reason}))
    return ok, reason


def kvm_checks(host: HostFacts) -> list[Check]:
    """Is /dev/kvm there, does it open, and does a vCPU really run on it?"""
    if not DEVICE.exists():
        return [Check(name="kvm", ok=False, reason=f"{DEVICE} is missing ({hints(host)})")]
    try:
        os.close(os.open(DEVICE, os.O_RDWR | os.O_CLOEXEC))
    except OSError as exc:
        return [Check(name="kvm", ok=False, reason=f"{DEVICE} exists but cannot be opened: {exc.strerror}")]
    ok, reason = vcpu_runs()
    return [Check(name="kvm", ok=ok, reason=f"{reason} ({hints(host)})")]
