"""creature: one command line and one Python API for every Linux hypervisor."""

__version__ = "0.1.0"

# Public names are imported lazily so that `import creature` (and the CLI's
# start-up) does not pay for pydantic and the inventory.
_PUBLIC = {
    "Creature": "creature.api",
    "CreatureError": "creature.errors",
    "InputError": "creature.errors",
    "NotFound": "creature.errors",
    "CommandFailed": "creature.errors",
    "Driver": "creature.drivers",
    "Capabilities": "creature.drivers",
    "Check": "creature.drivers",
    "Probe": "creature.drivers",
    "StopResult": "creature.drivers",
    "Machine": "creature.records",
    "MachineSpec": "creature.records",
    "MachineInfo": "creature.records",
    "Nic": "creature.records",
    "State": "creature.state",
    "Template": "creature.records",
    "hookimpl": "creature.hookspecs",
}


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'creature' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = sorted(_PUBLIC) + ["__version__"]
