"""`creature list` without the full API for machines that do not run.

The full listing (creature.api.Creature.list_machines) validates every machine with pydantic and
imports every driver it needs, which costs many times the listing itself. A machine that does not run
shows only its inventory row: rows read straight from the inventory and each driver's lean states
function (`states=` of DriverRegistry.register) give the same answer. Only a running machine needs
the API, for its addresses (networks, the driver, the neighbour table), and gets it with the state
already known. A driver without a states function makes quick_rows return None: list in full.
"""

from __future__ import annotations

import json
from pathlib import Path

from creature.errors import CreatureError
from creature.state import ADDRESSED, State, check_state

COLUMNS = ["name", "driver", "state", "autostart", "template", "cpus", "memory", "macs", "ips"]


class Row:
    """A machine as its inventory row holds it: what a driver's states function may use (name, dir, data)."""

    __slots__ = ("name", "driver", "dir", "data", "spec")

    def __init__(self, name: str, driver: str, spec: str, data: str, directory: str):
        self.name = name
        self.spec = json.loads(spec)
        self.driver = self.spec.get("driver") or driver  # the spec's, as creature.records.Machine has it
        self.data = json.loads(data)
        self.dir = Path(directory)

    def show(self, state: State) -> dict:
        """The row `list` prints, as creature.api shows it for a machine without addresses."""
        spec = self.spec
        return {"name": self.name, "driver": self.driver, "state": state.value, "autostart": spec.get("autostart", False),
                "template": spec.get("template", ""), "cpus": spec.get("cpus", 1), "memory": spec.get("memory", 0),
                "macs": [n["mac"] for n in spec.get("nics", []) if n.get("mac")], "ips": []}


def info_row(info) -> dict:
    """The row `list` prints for a creature.records.MachineInfo."""
    return {c: getattr(info, c) for c in COLUMNS} | {"state": info.state.value}


def quick_rows(home_root: Path, plugins, driver: str | None = None, state: str | None = None) -> list[dict] | None:
    """`list`'s rows, or None when the full listing is needed (a driver without a states function, an unknown one)."""
    from creature.inventory import Inventory

    path = home_root / "inventory.sqlite"
    if not path.exists():
        return None  # a new home: the full path makes it
    registry = plugins.registry()
    if driver is not None:
        registry.check_known(driver)
    check_state(state)
    rows = Inventory(path)._query("SELECT name, driver, spec, data, dir FROM machines ORDER BY name")
    by_driver: dict[str, list[Row]] = {}
    for row in (Row(*r) for r in rows):
        if driver is None or row.driver == driver:
            by_driver.setdefault(row.driver, []).append(row)
    shown = []
    api = None
    try:
        for name, group in by_driver.items():
            if name not in registry:
                return None  # the full listing says which driver is missing
            function = registry.entry(name).states_function()
            if function is None:
                return None
            try:
                states = function(group)
            except CreatureError:
                return None  # the full listing puts the driver's error in the note
            for row in group:
                found = State(states.get(row.name, State.UNKNOWN))
                if found in ADDRESSED:
                    if api is None:
                        from creature.api import Creature

                        api = Creature(home_root, plugins)
                    shown.append(info_row(api.describe(api.machine(row.name), found)))
                else:
                    shown.append(row.show(found))
    finally:
        if api is not None:
            api.inventory.close()
    shown.sort(key=lambda r: r["name"])
    return [r for r in shown if state is None or r["state"] == state]


def quick_info(home_root: Path, plugins, name: str) -> dict | None:
    """What `show` prints of a machine that does not run, from its row, its driver's states function and, if that
    module has one, its details function (machine, home root) -> dict; None when the API must answer."""
    import sys

    from creature.inventory import Inventory

    path = home_root / "inventory.sqlite"
    found = Inventory(path)._query("SELECT name, driver, spec, data, dir, created FROM machines WHERE name = ?",
                                   (name,)) if path.exists() else []
    registry = plugins.registry()
    if not found or Row(*found[0][:5]).driver not in registry:
        return None  # the API says what is wrong
    row, created = Row(*found[0][:5]), found[0][5]
    function = registry.entry(row.driver).states_function()
    try:
        state = State(function([row]).get(row.name, State.UNKNOWN)) if function else None
    except CreatureError:
        return None
    if state is None or state in ADDRESSED:
        return None  # a running machine's addresses come from the API
    details = getattr(sys.modules[function.__module__], "details", None)
    spec = row.spec
    return {**row.show(state), "addresses": [], "nics": [{"network": n.get("network"), "mac": n.get("mac"), "ip": n.get("ip")}
                                                          for n in spec.get("nics", [])],
            "disk": spec.get("disk"), "clone": row.data.get("clone"), "dir": str(row.dir), "created": created, "note": None,
            "details": details(row, home_root) if details else {}}


def list_rows(home_root: Path, driver: str | None = None, state: str | None = None) -> list[dict]:
    """`list`'s rows of this host: the quick way when it can answer, else the full listing."""
    from creature.plugins import get_plugins

    plugins = get_plugins()
    rows = quick_rows(home_root, plugins, driver=driver, state=state)
    if rows is not None:
        return rows
    from creature.api import Creature

    api = Creature(home_root, plugins)
    try:
        return [info_row(i) for i in api.list_machines(driver=driver, state=state)]
    finally:
        api.inventory.close()  # the executable ends without teardown (creature.entry): nothing is left open


def show_data(home_root: Path, name: str) -> dict:
    """What `show` prints of a machine of this host: the quick way when it can answer, else through the API."""
    from creature.plugins import get_plugins

    plugins = get_plugins()
    found = quick_info(home_root, plugins, name)
    if found is not None:
        return found
    from creature.api import Creature

    api = Creature(home_root, plugins)
    try:
        return api.info(name).to_dict()
    finally:
        api.inventory.close()


def show_text(data: dict, fmt: str) -> str:
    """What `show` prints for a machine's info (creature.records.MachineInfo.to_dict())."""
    if fmt == "json":
        return json.dumps(data, indent=2)
    lines = []
    for key, value in data.items():
        if key == "details":
            lines += [f"{detail + ':':<11} {text}" for detail, text in value.items()]
            continue
        if key in ("addresses", "nics"):
            value = [" ".join(str(v) for v in item.values() if v is not None) for item in value]
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "-"
        lines.append(f"{key + ':':<11} {value if value not in (None, '') else '-'}")
    return "\n".join(lines)
