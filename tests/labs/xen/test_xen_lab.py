"""The Xen lab: Xen 4.17 booted under QEMU TCG with a Debian PV dom0, the xen driver's conformance suite run inside.

Fails (never skips) when the lab does not boot, with the serial log's tail in the message; skips
only when told to (CREATURE_XEN_LAB=0) or when the host lacks the lab's tools and xen is not a
required driver. Timings of the build, boot to `xl info` and the suite are printed (-s or -rA).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
HOST_TOOLS = ("qemu-system-x86_64", "debootstrap", "apt-get", "dpkg", "mkfs.ext4", "cpio", "modprobe", "depmod")
# the DriverConformance tests and the lab's own race test: each must have passed in dom0
EXPECTED = {"test_probe_gives_reasons", "test_capabilities_match_methods", "test_lifecycle_api", "test_lifecycle_cli",
            "test_start_twice_and_kill", "test_running_console_restart_and_recreate",
            "test_snapshot_restores_the_stopped_disk"}
# CI budget (issue 11): a cold build, the boot and the suite together
TIMEOUT = float(os.environ.get("CREATURE_XEN_LAB_TIMEOUT", "1500"))


def load_lab():
    spec = importlib.util.spec_from_file_location("xen_lab_runner", HERE / "lab.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def junit_results(path: Path) -> dict[str, str]:
    """Test name -> passed, failed, error or skipped (with the message) from pytest's JUnit XML."""
    results = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        for kind in ("failure", "error", "skipped"):
            element = case.find(kind)
            if element is not None:
                outcome = f"{kind}: {(element.get('message') or '').strip()[:300]}"
        results[case.get("name")] = outcome
    return results


@pytest.fixture
def lab_prerequisites():
    if os.environ.get("CREATURE_XEN_LAB", "1") == "0":
        pytest.skip("the Xen lab is switched off here (CREATURE_XEN_LAB=0)")
    required = "xen" in {d.strip() for d in os.environ.get("CREATURE_REQUIRE_DRIVERS", "").split(",")}
    missing = [t for t in HOST_TOOLS if shutil.which(t) is None]
    if os.geteuid() != 0:
        missing.append("root (debootstrap, mknod and the cache under /var/cache need it)")
    if missing:
        message = "the Xen lab needs " + ", ".join(missing) + " (make install puts the Debian packages in place)"
        if required:
            pytest.fail(message)
        pytest.skip(message)
    unreachable = archive_unreachable()
    if unreachable and not cached_labs():
        message = f"the Xen lab is not cached and cannot be built: the Debian archive is unreachable ({unreachable})"
        if required:
            pytest.fail(message)
        pytest.skip(message)


def cached_labs() -> list[Path]:
    """Built labs in the cache (any key: a stale one still tells the archive was reached before)."""
    cache = Path(os.environ.get("XEN_LAB_CACHE", "/var/cache/creature/xen-lab"))
    return [p.parent for p in cache.glob("xen-*/READY")]


def archive_unreachable() -> str | None:
    """Why apt's mirror cannot be resolved, or None (the build downloads the hypervisor from it)."""
    import socket
    import urllib.parse

    hosts = set()
    for source in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        try:
            text = source.read_text()
        except OSError:
            continue
        for word in " ".join(line for line in text.splitlines() if not line.lstrip().startswith("#")).split():
            if word.startswith(("http://", "https://")):
                hosts.add(urllib.parse.urlparse(word).hostname)
    for host in sorted(h for h in hosts if h):
        try:
            socket.getaddrinfo(host, 80)
            return None
        except OSError as exc:
            last = f"{host}: {exc}"
    return last if hosts else "no http mirror in /etc/apt/sources"


@pytest.mark.slow
def test_xen_driver_conformance_in_the_lab(lab_prerequisites):
    lab = load_lab()
    run_dir = Path(tempfile.mkdtemp(prefix="xen-lab-run."))
    keep = False
    try:
        try:
            run = lab.run_lab(run_dir, timeout=TIMEOUT)
        except lab.LabError as exc:
            keep = True
            pytest.fail(f"the Xen lab could not be built (folder kept: {run_dir}): {exc}")
        print(f"\nXen lab: {run.timings()}")
        where = f"(run folder kept: {run_dir})"
        if run.boot_to_xl_info is None:
            keep = True
            pytest.fail(f"the Xen lab did not boot to `xl info` {where}; {' '.join(run.notes)}\n"
                        f"serial log tail:\n{run.serial_tail()}")
        suite_log = run.out("suite.log")
        suite_tail = "\n".join(suite_log.read_text(errors="replace").splitlines()[-60:]) if suite_log.exists() else "(no suite log)"
        junit = run.out("junit.xml")
        if run.suite_rc is None or not junit.exists():
            keep = True
            pytest.fail(f"the conformance suite did not finish in dom0 {where}; {' '.join(run.notes)}\n"
                        f"suite log tail:\n{suite_tail}\nserial log tail:\n{run.serial_tail(30)}")
        results = junit_results(junit)
        print("\n".join(f"  dom0: {name}: {outcome}" for name, outcome in sorted(results.items())))
        # a test outside EXPECTED may skip for its own reason (an unusable driver's refusal cannot be shown where
        # xen is usable); one of EXPECTED skipped never ran, and a failure of any test fails the lab
        not_passed = {n: o for n, o in results.items()
                      if o != "passed" and (n in EXPECTED or not o.startswith("skipped"))}
        missing = EXPECTED - set(results)
        # a process dying of a bad pointer in dom0 means the lab itself corrupts memory (docs/xen-lab.md, eager-fpu)
        crashes = "\n".join(run.dom0_crashes())
        crashed = f"\ndom0's kernel reported crashed processes:\n{crashes}" if crashes else ""
        if run.suite_rc != 0 or not_passed or missing or crashes:
            keep = True
            pytest.fail(f"the xen driver's conformance suite in dom0 exited {run.suite_rc} {where}; "
                        f"not passed: {not_passed}; never ran: {sorted(missing)}{crashed}\nsuite log tail:\n{suite_tail}")
    finally:
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)
