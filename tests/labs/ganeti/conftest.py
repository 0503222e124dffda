"""Fixtures of the Ganeti lab: one real two-node cluster per session (lab.py), and creature homes that reach it.

The lab fails (never skips) when it cannot come up, with the reason; it skips only when told to
(CREATURE_GANETI_LAB=0) or when this host lacks what the lab needs and ganeti is not a required
driver (CREATURE_REQUIRE_DRIVERS). `make test-ganeti` runs it alone and requires it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
HOST_TOOLS = ("debootstrap", "apt-get", "apt-cache", "unshare", "nsenter", "ip", "chroot", "mkfs.ext4")
_TIMINGS: dict[str, str] = {}


def load_lab():
    if "ganeti_lab_runner" in sys.modules:
        return sys.modules["ganeti_lab_runner"]
    spec = importlib.util.spec_from_file_location("ganeti_lab_runner", HERE / "lab.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _prerequisites() -> str | None:
    missing = [t for t in HOST_TOOLS if shutil.which(t) is None]
    if os.geteuid() != 0:
        missing.append("root (namespaces, mounts and the cache under /var/cache need it)")
    if missing:
        return f"this host lacks what the Ganeti lab needs: {', '.join(missing)}"
    return None


@pytest.fixture(scope="session")
def ganeti_lab():
    """A running two-node cluster (kvm and fake enabled, RAPI reachable at lab.url); removed completely afterwards."""
    if os.environ.get("CREATURE_GANETI_LAB", "1") == "0":
        pytest.skip("the Ganeti lab is switched off here (CREATURE_GANETI_LAB=0)")
    reason = _prerequisites()
    if reason:
        if "ganeti" in {d.strip() for d in os.environ.get("CREATURE_REQUIRE_DRIVERS", "").split(",")}:
            pytest.fail(f"driver ganeti is required here (CREATURE_REQUIRE_DRIVERS) but {reason}")
        pytest.skip(reason)
    module = load_lab()
    run_dir = Path(tempfile.mkdtemp(prefix="crt-gnt.", dir="/tmp"))
    lab = module.GanetiLab(run_dir)
    started = time.monotonic()
    try:
        try:
            lab.up()
        except module.LabError as exc:
            pytest.fail(f"the Ganeti lab did not come up: {exc}")
        yield lab
    finally:
        lab.down()
        _TIMINGS["ganeti lab"] = f"{lab.report()}; lab in use {time.monotonic() - started:.1f} s"
        shutil.rmtree(run_dir, ignore_errors=True)
        left = [n.netns for n in lab.nodes] + [p.name for p in Path("/run/netns").glob(f"crt-gnt{lab.tag}-*")]
        if left:
            _TIMINGS["ganeti lab leftovers"] = ", ".join(left)


def pytest_terminal_summary(terminalreporter):
    for what, text in _TIMINGS.items():
        terminalreporter.write_line(f"{what}: {text}")


def add_lab_host(home: Path, lab, name: str, **options: str) -> None:
    """Add the lab's cluster to home as host name (idempotent), through the same code as `creature host add`."""
    from creature.builtin.remote.hosts import HostAccess, Hosts
    from creature.home import Home

    hosts = Hosts(Home(home))
    if name in hosts.names():
        return
    module = load_lab()
    hosts.add(name, lab.url, "ganeti", HostAccess(user=module.RAPI_USER, password=lab.password, ca_cert=lab.ca_cert,
                                                  options={"image_dir": str(lab.image_dir),
                                                           "node_image_dir": module.NODE_IMAGE_DIR, **options}))


@pytest.fixture
def host_api(cluster_home):
    """host -> the API of that lab host's machines in cluster_home, as `--host NAME` gets it (creature_host_api)."""
    from creature.home import Home
    from creature.plugins import get_plugins

    def api(host: str):
        return get_plugins().call("creature_host_api", home=Home(cluster_home), host=host)
    return api


@pytest.fixture
def cluster_home(creature_home, ganeti_lab):
    """creature_home with the lab added as host "lab" (kvm, the cluster's default) and "labfake" (hypervisor fake).

    Afterwards every machine of both is destroyed on the cluster, and the cluster is checked to hold no
    instance any more (one left is removed and fails the test).
    """
    add_lab_host(creature_home, ganeti_lab, "lab")
    add_lab_host(creature_home, ganeti_lab, "labfake", hypervisor="fake")
    yield creature_home
    from creature.testing import cleanup_home

    for host in ("lab", "labfake"):
        cleanup_home(creature_home / "hosts" / host)
    left = ganeti_lab.instances()
    for name in left:
        ganeti_lab.node_run(0, ["gnt-instance", "remove", "-f", "--shutdown-timeout=0", name], check=False)
    assert not left, f"instances left on the cluster after the test: {left}"
