"""Fixtures shared by the core's tests (lxc_usable comes from the repository's conftest.py)."""

import pytest


@pytest.fixture
def lxc_home(lxc_usable, creature_cli):
    """The API, where LXC runs, with a busybox template named bb built through the CLI."""
    creature_cli.ok("template", "build", "bb", "--method", "busybox")
    return lxc_usable
