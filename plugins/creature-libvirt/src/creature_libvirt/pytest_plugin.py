"""pytest plugin (entry point pytest11): one private libvirtd per test session, only when tests need it.

When the collected tests mention libvirt (this distribution's tests, or a cross-distribution test
parametrized with a libvirt driver), a private virtlogd + libvirtd starts once (its first
connection probes QEMU for ~8 s) and is stopped by pid when the session ends, failed or not. Both
driver URIs point at it, in this process and in the `creature` commands the tests run. Otherwise
the URIs point at a socket that does not exist, so that no test touches the host's own libvirt.
A URI already set in the environment is respected: the session then uses that daemon.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

URI_VARS = ("CREATURE_LIBVIRT_QEMU_URI", "CREATURE_LIBVIRT_LXC_URI")
_session: dict = {}


def pytest_configure(config):
    if any(os.environ.get(v) for v in URI_VARS):
        return
    from creature_libvirt.private_daemon import PrivateLibvirtd

    root = Path(tempfile.mkdtemp(prefix="crt-lv.", dir="/tmp"))
    daemon = PrivateLibvirtd(root)
    _session.update(daemon=daemon, root=root)
    for var, driver in zip(URI_VARS, ("qemu", "lxc"), strict=True):
        os.environ[var] = daemon.uri(driver)
    atexit.register(_stop)  # also when the session is interrupted before pytest_unconfigure


def pytest_collection_finish(session):
    daemon = _session.get("daemon")
    if daemon is None or os.geteuid() != 0 or not any("libvirt" in item.nodeid.lower() for item in session.items):
        return
    from creature.sdk import CreatureError

    try:
        daemon.start()
    except CreatureError as exc:  # the drivers' probes then say why; required drivers fail their tests
        print(f"creature-libvirt: private libvirtd not started: {exc}")


def pytest_unconfigure(config):
    _stop()


def _stop() -> None:
    daemon = _session.pop("daemon", None)
    if daemon is None:
        return
    daemon.stop()
    for var in URI_VARS:
        os.environ.pop(var, None)
    shutil.rmtree(_session.pop("root"), ignore_errors=True)


@pytest.fixture(scope="session")
def private_libvirtd():
    """The session's running PrivateLibvirtd, or None (the environment named another daemon, or it could not start)."""
    daemon = _session.get("daemon")
    return daemon if daemon is not None and daemon.records else None
