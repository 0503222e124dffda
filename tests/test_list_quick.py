"""`creature list` answers from the inventory and the drivers' lean states functions while no machine runs."""

import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("click", "pydantic", "stevedore", "pluggy", "creature.api", "creature_lxc.driver", "creature_qemu.driver", "creature_uml.driver")

RUN_LIST = textwrap.dedent("""\
    import atexit, json, sys
    HEAVY = {heavy!r}
    atexit.register(lambda: sys.stderr.write("MODULES " + json.dumps(sorted(m for m in sys.modules if m in HEAVY)) + "\\n"))
    from creature.entry import main
    main({argv!r})
    """)


def run_list(home, *args):
    """`creature list` in a fresh interpreter: its result and which heavy modules it imported."""
    argv = ["--home", str(home), "list", *args]
    proc = subprocess.run([sys.executable, "-c", RUN_LIST.format(heavy=HEAVY, argv=argv)], capture_output=True, text=True, timeout=60)
    lines = proc.stderr.splitlines()
    modules = json.loads(lines[-1].removeprefix("MODULES "))
    return proc.returncode, proc.stdout, "\n".join(lines[:-1]), modules


@pytest.fixture
def three_drivers(creature_api):
    api = creature_api
    api.templates.build("bb", "busybox")
    for name, driver in (("c1", "lxc"), ("q1", "qemu"), ("u1", "uml")):
        # UML has one virtual CPU (and refuses more); the others show a non-default count
        cpus = 1 if driver == "uml" else 2
        api.create({"name": name, "driver": driver, "template": "bb", "cpus": cpus, "memory": "96M", "autostart": name == "q1"})
    return api


def full_rows(api, **filters):
    from creature.builtin.commands.listing import info_row

    return [info_row(i) for i in api.list_machines(**filters)]


def test_stopped_machines_are_listed_without_pydantic_or_any_driver_module(three_drivers, creature_home):
    run_list(creature_home)  # the first run after a change to the plugins may load them all and write the index
    code, out, err, modules = run_list(creature_home, "--format", "json")
    assert code == 0, err
    assert modules == [], f"a listing of stopped machines imported {modules}"
    assert json.loads(out) == full_rows(three_drivers), "the quick listing must equal the full one"
    code, out, err, _ = run_list(creature_home, "--format", "json", "--driver", "qemu")
    assert json.loads(out) == full_rows(three_drivers, driver="qemu") and [r["name"] for r in json.loads(out)] == ["q1"]
    code, out, err, _ = run_list(creature_home, "--format", "json", "--state", "running")
    assert code == 0 and json.loads(out) == []


def test_a_running_machine_gets_its_full_row_the_others_stay_quick(three_drivers, creature_home):
    three_drivers.start("c1")
    run_list(creature_home)
    code, out, err, modules = run_list(creature_home, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert {r["name"]: r["state"] for r in rows} == {"c1": "running", "q1": "stopped", "u1": "stopped"}
    assert rows == full_rows(three_drivers)
    assert "creature.api" in modules, "a running machine's addresses come from the API"
    assert "pydantic" not in modules, "stored machines are read without validating them again"
    assert "creature_qemu.driver" not in modules and "creature_uml.driver" not in modules, \
        "the stopped machines' drivers are not imported for one running LXC machine"


@pytest.mark.parametrize("args, message", [
    (("--state", "sleeping"), "creature: error: unknown state 'sleeping' (known: running, stopped, paused, crashed, unknown)"),
    (("--driver", "nosuch"), "creature: error: unknown driver 'nosuch' (known: "),
])
def test_bad_filters_are_one_line_errors(three_drivers, creature_home, args, message):
    code, out, err, _ = run_list(creature_home, *args)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(message)


def test_a_machine_of_a_missing_driver_is_listed_in_full(three_drivers, creature_home):
    three_drivers.inventory.db.execute(
        "UPDATE machines SET driver = 'gone', spec = json_set(spec, '$.driver', 'gone') WHERE name = 'u1'")
    code, out, err, _ = run_list(creature_home, "--format", "json")
    assert code == 0, err
    assert {r["name"]: (r["driver"], r["state"]) for r in json.loads(out)}["u1"] == ("gone", "unknown")


def test_show_of_a_stopped_machine_is_the_apis_without_the_api(three_drivers, creature_home):
    """`show` answers from the row, the states function and the states module's details (UML: its kernel)."""
    from creature.builtin.commands.listing import quick_info
    from creature.plugins import get_plugins

    for name in ("c1", "q1", "u1"):
        quick = quick_info(creature_home, get_plugins(), name)
        assert quick == three_drivers.info(name).to_dict(), name
    assert quick_info(creature_home, get_plugins(), "u1")["details"]["kernel"].endswith("used at the next start")
    assert quick_info(creature_home, get_plugins(), "nosuch") is None
