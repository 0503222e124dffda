"""Shared fixtures for the cross-distribution tests."""

import pytest


@pytest.fixture
def lxc_usable(creature_api):
    """The LXC driver, which every machine on these development hosts can run (failing, not skipping, when CI requires it)."""
    from creature.testing import required_drivers

    probe = creature_api.probe("lxc")
    if not probe.usable:
        if "lxc" in required_drivers():
            pytest.fail(f"lxc is required here but not usable: {probe.reason}")
        pytest.skip(f"lxc is not usable on this host: {probe.reason}")
    return creature_api


@pytest.fixture
def busybox(lxc_usable):
    """A home with a busybox template named bb."""
    lxc_usable.templates.build("bb", "busybox")
    return "bb"
