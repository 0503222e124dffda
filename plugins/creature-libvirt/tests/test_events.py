"""libvirt's lifecycle callbacks become creature events: each state told once, whatever libvirt repeats."""

from __future__ import annotations

import pytest

pytest.importorskip("libvirt", reason="libvirt-python is not installed (make install builds it)")


class FakeConnection:
    """Keeps the callback domainEventRegisterAny is given, so the test can play libvirt's part."""

    def call(self, name, *args, target=None):
        assert name == "domainEventRegisterAny"
        self.callback = args[2]
        return 7


class Domain:
    def __init__(self, uuid: str):
        self.uuid = uuid

    def UUIDString(self) -> str:  # noqa: N802 - libvirt's name
        return self.uuid


def test_a_repeated_stop_is_told_once(monkeypatch):
    from creature_libvirt import events

    monkeypatch.setattr(events, "start_event_loop", lambda: False)
    told = []
    connection = FakeConnection()
    assert events.watch(connection, lambda domain, event: told.append((domain.UUIDString(), event))) == 7
    a, b = Domain("a"), Domain("b")
    # started, then a destroy that libvirt's LXC driver reports twice (DESTROYED, then SHUTDOWN as its controller ends)
    for domain, event, detail in ((a, 2, 0), (b, 2, 0), (a, 5, 1), (a, 5, 0), (b, 5, 2), (a, 2, 0), (a, 6, 1), (a, 5, 0)):
        connection.callback(None, domain, event, detail, None)
    assert told == [("a", "started"), ("b", "started"), ("a", "stopped"), ("b", "crashed"), ("a", "started"), ("a", "stopped")]
