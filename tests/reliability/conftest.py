"""Fixtures for the reliability suite: which real drivers take part, and a counter the suite reports."""

import pytest

COUNTS = {"commands issued": 0, "faults injected": 0, "machines checked": 0}


def pytest_terminal_summary(terminalreporter):
    if any(COUNTS.values()):
        terminalreporter.write_line("reliability: " + ", ".join(f"{v} {k}" for k, v in COUNTS.items()))


@pytest.fixture
def counts():
    return COUNTS


@pytest.fixture
def storm_drivers(creature_api):
    """The drivers of the storm: LXC always; UML when usable here (each built a busybox template)."""
    from creature.testing import required_drivers

    drivers = []
    for name in ("lxc", "uml"):
        if name not in creature_api.registry:
            continue
        probe = creature_api.probe(name)
        if probe.usable:
            drivers.append(name)
        elif name in required_drivers():
            pytest.fail(f"{name} is required here but not usable: {probe.reason}")
    if "lxc" not in drivers:
        pytest.skip("lxc is not usable on this host")
    creature_api.templates.build("bb", "busybox")
    return drivers
