"""Repository-wide test guard: no test may change the host's own network interfaces.

Tests create bridges, veths and taps in namespaces of their own; an address lost or added on an
interface the host had before the session (eth0, lo) means a guest's network scripts reached the host.

Also the one fixture the core's tests and the cross-distribution tests share: lxc_usable.
"""

import json
import subprocess

import pytest

_BEFORE = {}


@pytest.fixture
def lxc_usable(creature_api):
    """The API, where the LXC driver runs (every development host can; failing, not skipping, when CI requires it)."""
    from creature.testing import require_usable

    require_usable(creature_api, "lxc")
    return creature_api


def _host_addresses() -> dict[str, list[str]]:
    try:
        out = subprocess.run(["ip", "-j", "-d", "addr", "show"], capture_output=True, text=True, timeout=10).stdout
        links = json.loads(out or "[]")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}
    # the host's own devices only: veths, bridges and taps come and go with tests (and other sessions)
    return {link["ifname"]: sorted(f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a.get("scope") != "link")
            for link in links if "info_kind" not in link.get("linkinfo", {})}


def pytest_sessionstart(session):
    _BEFORE.update(_host_addresses())


def pytest_sessionfinish(session, exitstatus):
    after = _host_addresses()
    changed = {name: (addrs, after.get(name)) for name, addrs in _BEFORE.items() if after.get(name) != addrs}
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for name, (before, now) in changed.items():
            line = f"HOST NETWORK CHANGED by the tests: {name} had {before}, now {now}"
            if reporter:
                reporter.write_line(line, red=True)
        session.exitstatus = 1
