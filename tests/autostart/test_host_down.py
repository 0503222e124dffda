"""`host down`: reverse order, graceful then forced at the timeout, the record for --restore, no stray processes."""

import time

from creature.builtin.autostart.autostart import RUNNING_AT_DOWN


def test_host_down_stops_everything_and_forces_the_stubborn(creature_api, creature_cli, busybox, tools):
    api, cli = creature_api, creature_cli
    tools.need_driver(api, "lxc")
    for name, order, auto in (("db", 1, True), ("app", 2, True), ("manual", 2, False), ("stubborn", 0, True),
                              ("idle", 3, True)):
        api.create({"name": name, "driver": "lxc", "template": busybox, "autostart": auto, "autostart_order": order})
    tools.make_stubborn(api, "stubborn")
    api.set_autostart("idle", False, 3)  # autostart off and never started: host down leaves it alone
    cli.ok("host", "up")
    cli.ok("start", "manual")
    running = ["app", "db", "manual", "stubborn"]
    assert sorted(i.name for i in api.list_machines(state="running")) == running
    processes = {n: tools.lxc_processes(api, n) for n in running}
    assert all(len(p) >= 2 for p in processes.values()), "each machine has its lxc monitor and the container's init"

    began = time.monotonic()
    result = cli("host", "down", "--timeout", "10")
    took = time.monotonic() - began

    assert result.code == 1, "a machine had to be forced off: exit 1"
    assert result.err.strip().splitlines() == ["creature: forced off after 10 s: stubborn"]
    assert result.out.startswith("host down: 3 stopped, 1 forced in "), result.out
    assert 10 <= took < 25, f"the stubborn machine is forced when the 10 s are up (took {took:.1f} s)"
    assert [i.state.value for i in api.list_machines()] == ["stopped"] * 5
    stray = [str(r) for records in processes.values() for r in records if r.alive()]
    assert not stray, f"processes left running: {stray}"
    assert not tools.processes_mentioning(str(api.home.root)), "an lxc process of this home survived"

    stops = {e["machine"]: e for e in api.inventory.events() if e["event"] == "stopped"}
    assert {n: e["detail"] for n, e in stops.items()} == {
        "app": "graceful", "manual": "graceful", "db": "graceful", "stubborn": "forced"}
    assert max(stops["app"]["ts"], stops["manual"]["ts"]) < stops["db"]["ts"] < stops["stubborn"]["ts"], \
        "higher orders stop first"
    assert api.inventory.host_value(RUNNING_AT_DOWN) == running

    # nothing left to stop: a second host down does nothing, succeeds, and keeps the record
    again = cli.ok("host", "down", "--timeout", "10")
    assert again.out.startswith("host down: nothing to do")
    assert api.inventory.host_value(RUNNING_AT_DOWN) == running


def test_one_order_stops_in_parallel(creature_api, creature_cli, busybox, tools):
    """Three busybox machines of one order, each taking ~3 s to halt, stop together, not one after another."""
    api, cli = creature_api, creature_cli
    tools.need_driver(api, "lxc")
    names = ["s1", "s2", "s3"]
    for name in names:
        api.create({"name": name, "driver": "lxc", "template": busybox, "autostart": True})
    cli.ok("host", "up")
    began = time.monotonic()
    cli.ok("host", "down", "--timeout", "30")
    parallel = time.monotonic() - began
    cli.ok("host", "up")
    began = time.monotonic()
    for name in names:
        cli.ok("stop", name)
    sequential = time.monotonic() - began
    assert parallel < sequential * 0.7, f"host down {parallel:.1f} s vs one by one {sequential:.1f} s"




def test_host_down_leaves_nothing_of_each_driver(driver, creature_api, creature_cli, busybox, tools):
    """Every usable driver: host down in reverse order stops its machines and leaves none of its processes."""
    api, cli = creature_api, creature_cli
    tools.need_driver(api, driver)
    for name, order in (("low", 1), ("high", 2)):
        cli.ok("create", name, "--driver", driver, "--template", busybox, "--memory", "128M", "--autostart",
               "--order", str(order))
    cli.ok("host", "up")
    assert sorted(i.name for i in api.list_machines(state="running")) == ["high", "low"]
    result = cli("host", "down", "--timeout", "20")
    assert result.code in (0, 1), result
    assert "failed" not in result.out, result
    assert [i.state.value for i in api.list_machines()] == ["stopped", "stopped"]
    assert not tools.processes_mentioning(str(api.home.root)), f"a {driver} process of this home survived"
    stops = {e["machine"]: e["ts"] for e in api.inventory.events() if e["event"] == "stopped"}
    assert stops["high"] < stops["low"], "the higher order stops first"
