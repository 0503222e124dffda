"""Stop and remove a whole creature home: part of the test kit that benchmarks use too, so it imports no pytest."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def stop_home(home: Path) -> None:
    """Kill every running machine of home and stop its networks' dnsmasq (processes creature started for it)."""
    from creature.api import Creature
    from creature.state import State

    if not (home / "inventory.sqlite").exists():
        return
    api = Creature(home)
    for machine in api.inventory.machines():
        try:
            driver = api.driver(machine.driver)
            if driver.state(machine) in (State.RUNNING, State.PAUSED):
                driver.kill(machine)
        except Exception as exc:  # keep cleaning the others; say what was left
            print(f"creature.testing: stopping {machine.name} failed: {exc}", file=sys.stderr)
    for network in api.networks.list():
        try:
            api.networks.dnsmasq(network).stop()
        except Exception as exc:
            print(f"creature.testing: stopping network {network.name} failed: {exc}", file=sys.stderr)
    api.inventory.close()


def cleanup_home(home: Path) -> None:
    """Stop everything of home, destroy its machines, then remove it: runs even when a test failed."""
    from creature.api import Creature

    stop_home(home)
    if (home / "inventory.sqlite").exists():
        api = Creature(home)
        for machine in api.inventory.machines():
            try:
                api.driver(machine.driver).destroy(machine)
            except Exception as exc:  # keep cleaning the others; say what was left
                print(f"creature.testing: cleanup of {machine.name} failed: {exc}", file=sys.stderr)
        api.inventory.close()
    shutil.rmtree(home, ignore_errors=True)
