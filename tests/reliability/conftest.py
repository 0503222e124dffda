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
    from creature.testing import require_usable

    require_usable(creature_api, "lxc")
    drivers = ["lxc"]
    try:
        require_usable(creature_api, "uml")
        drivers.append("uml")
    except pytest.skip.Exception:  # UML only joins where it runs (require_usable fails where CI requires it)
        pass
    creature_api.templates.build("bb", "busybox")
    return drivers
