"""`creature list` over many libvirt domains costs a constant number of libvirt calls."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from creature.testing import require_usable
from creature_libvirt.connection import Connection


@pytest.fixture
def qemu_api(creature_api):
    require_usable(creature_api, "libvirt-qemu")
    creature_api.templates.build("bb", "busybox")
    return creature_api


# calls answered by the client library itself (the handle's own fields, the link's keepalive state):
# they never reach the daemon
LOCAL_CALLS = {"name", "UUID", "UUIDString", "ID", "connect", "isAlive"}


@pytest.fixture
def libvirt_calls(monkeypatch):
    """Every method call on libvirt's connection and domain objects, by name, wherever it is made from."""
    import libvirt

    counts = Counter()
    for cls in (libvirt.virConnect, libvirt.virDomain):
        for attr, value in list(vars(cls).items()):
            if callable(value) and not attr.startswith("_") and attr not in LOCAL_CALLS:
                def counted(*args, _f=value, _n=f"{cls.__name__}.{attr}", **kwargs):
                    counts[_n] += 1
                    return _f(*args, **kwargs)
                monkeypatch.setattr(cls, attr, counted)
    return counts


def _listing_calls(api, counts) -> tuple[dict, dict, list]:
    before, raw_before = Connection.calls.copy(), counts.copy()
    infos = api.list_machines()
    return dict(Connection.calls - before), dict(counts - raw_before), infos


def test_listing_calls_do_not_grow_with_domains(qemu_api, libvirt_calls):
    api = qemu_api
    for i in range(5):
        api.create({"name": f"l{i:03d}", "driver": "libvirt-qemu", "template": "bb", "memory": "64M"})
    few_calls, few_raw, infos = _listing_calls(api, libvirt_calls)
    assert len(infos) == 5 and {i.state.value for i in infos} == {"stopped"}
    started = time.monotonic()
    for i in range(5, 200):
        api.create({"name": f"l{i:03d}", "driver": "libvirt-qemu", "template": "bb", "memory": "64M"})
    print(f"195 creates: {time.monotonic() - started:.1f} s")
    api.start("l007")
    many_calls, many_raw, infos = _listing_calls(api, libvirt_calls)
    assert len(infos) == 200
    assert {i.name: i.state.value for i in infos if i.state.value != "stopped"} == {"l007": "running"}
    # the same calls, as often, for 200 domains as for 5: one bulk query, no per-domain lookups
    assert many_calls == few_calls, (few_calls, many_calls)
    assert many_raw == few_raw, (few_raw, many_raw)
    assert many_raw == {"virConnect.getAllDomainStats": 1}, many_raw
    print(f"libvirt calls per listing, 5 and 200 domains: {few_raw} / {many_raw}")
    # the daemon really holds 200 domains of ours (one more bulk call, outside the counted listing)
    names = {d.name() for d in api.driver("libvirt-qemu").connection.domains()}
    assert {f"l{i:03d}" for i in range(200)} <= names


def test_unreachable_daemon_is_one_line_error(creature_api, monkeypatch):
    """A URI nobody answers gives every machine state unknown with the reason, not a traceback."""
    monkeypatch.setenv("CREATURE_LIBVIRT_QEMU_URI", "qemu:///system?socket=/nonexistent/libvirt-sock")
    probe = creature_api.probe("libvirt-qemu")
    assert not probe.usable
    assert "cannot reach libvirt at qemu:///system?socket=/nonexistent/libvirt-sock" in probe.reason


def test_lxc_listing_calls_do_not_grow_either(creature_api, libvirt_calls):
    """libvirt LXC has no bulk stats: the list filters stand in, still a fixed number of calls."""
    api = creature_api
    if not api.probe("libvirt-lxc").usable:
        pytest.skip(f"libvirt-lxc is not usable here: {api.probe('libvirt-lxc').reason}")
    api.templates.build("bb", "busybox")
    for i in range(3):
        api.create({"name": f"c{i:02d}", "driver": "libvirt-lxc", "template": "bb"})
    api.list_machines()  # the first listing learns that LXC has no getAllDomainStats
    _, few_raw, _ = _listing_calls(api, libvirt_calls)
    for i in range(3, 40):
        api.create({"name": f"c{i:02d}", "driver": "libvirt-lxc", "template": "bb"})
    api.start("c05")
    _, many_raw, infos = _listing_calls(api, libvirt_calls)
    assert {i.name: i.state.value for i in infos if i.state.value != "stopped"} == {"c05": "running"}
    assert many_raw == few_raw == {"virConnect.listAllDomains": 3}, (few_raw, many_raw)
