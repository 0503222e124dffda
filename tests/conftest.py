"""Shared fixtures for the cross-distribution tests."""

import pytest


@pytest.fixture
def busybox(lxc_usable):
    """A home with a busybox template named bb."""
    lxc_usable.templates.build("bb", "busybox")
    return "bb"
