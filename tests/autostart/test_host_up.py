"""`creature autostart`, `create --autostart --order --delay` and `host up`: order, delays, parallelism, idempotence."""

import os
import pty
import subprocess
import sys
import threading
import time

import pytest
from creature.testing import snapshot


def test_host_up_starts_autostart_machines_in_order(driver, creature_api, creature_cli, busybox, tools):
    api, cli = creature_api, creature_cli
    tools.need_driver(api, driver)
    common = ("--driver", driver, "--template", busybox, "--memory", "128M")
    cli.ok("create", "first", *common, "--autostart", "--order", "1", "--delay", "1.5")
    cli.ok("create", "second", *common, "--autostart", "--order", "2")
    cli.ok("create", "third", *common)
    cli.ok("autostart", "third", "on", "--order", "3")
    cli.ok("create", "manual", *common, "--order", "1")

    up = cli.ok("host", "up")
    assert up.out.startswith("host up: 3 started in "), up.out
    states = {i.name: i.state.value for i in api.list_machines()}
    assert states == {"first": "running", "second": "running", "third": "running", "manual": "stopped"}
    started = tools.started_at(api)
    assert set(started) == {"first", "second", "third"}
    assert all(len(t) == 1 for t in started.values())
    first, second, third = started["first"][0], started["second"][0], started["third"][0]
    assert first < second < third
    assert second - first >= 1.5, "order 2 must wait for the delay of order 1"

    events = api.inventory.events()
    again = cli.ok("host", "up")
    assert again.out.startswith("host up: 3 already running in "), again.out
    assert api.inventory.events() == events, "a second host up must change nothing"
    assert {i.name: i.state.value for i in api.list_machines()} == states


def test_one_order_starts_in_parallel_and_waits_for_machine_locks(creature_api, creature_cli, busybox, tools):
    """Machines of one order start together: one held up by its lock does not hold up the other,
    and the next order waits until the whole order has started."""
    api, cli = creature_api, creature_cli
    tools.need_driver(api, "lxc")
    for name, order in (("p1", 1), ("p2", 1), ("later", 2)):
        api.create({"name": name, "driver": "lxc", "template": busybox, "autostart": True, "autostart_order": order})
    held = threading.Event()

    def hold():
        # p1 stays locked until p2 has started (or 15 s, when host up wrongly waits for p1 first)
        with api.home.lock("machine", "p1"):
            held.set()
            deadline = time.monotonic() + 15
            while "p2" not in tools.started_at(api) and time.monotonic() < deadline:
                time.sleep(0.05)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        cli.ok("host", "up")
    finally:
        holder.join()
    started = {n: t[0] for n, t in tools.started_at(api).items()}
    assert started["p2"] < started["p1"], "p2 must not wait for p1's lock: one order starts in parallel"
    assert started["p1"] < started["later"], "order 2 starts only after all of order 1 has started"


def test_autostart_command_sets_and_clears(creature_api, creature_cli, busybox, tools):
    api, cli = creature_api, creature_cli
    tools.need_driver(api, "lxc")
    cli.ok("create", "web", "--driver", "lxc", "--template", busybox, "--autostart", "--order", "4", "--delay", "2")
    spec = api.machine("web").spec
    assert (spec.autostart, spec.autostart_order, spec.autostart_delay) == (True, 4, 2)
    out = cli.ok("autostart", "web", "off").out
    assert out.strip() == "machine web: autostart off, order 4, delay 2 s"
    spec = api.machine("web").spec
    assert (spec.autostart, spec.autostart_order, spec.autostart_delay) == (False, 4, 2)
    assert cli.ok("show", "web", "--format", "json").json()["autostart"] is False
    cli.ok("autostart", "web", "on", "--delay", "0")
    spec = api.machine("web").spec
    assert (spec.autostart, spec.autostart_order, spec.autostart_delay) == (True, 4, 0)
    assert [e["detail"] for e in api.inventory.events("web") if e["event"] == "autostart"] == [
        "off order=4 delay=2", "on order=4 delay=0"]
    assert cli.ok("host", "up").out.startswith("host up: 1 started")


@pytest.mark.parametrize("args, message", [
    (("autostart", "nosuch", "on"), "no machine named 'nosuch'"),
    (("autostart", "web", "maybe"), "autostart wants on or off, got 'maybe'"),
    (("autostart", "web", "on", "--order", "1001"), "--order"),
    (("autostart", "web", "on", "--order", "x"), "--order"),
    (("autostart", "web", "on", "--delay", "-1"), "--delay"),
    (("autostart", "web"), "Missing argument"),
    (("create", "other", "--template", "bb", "--driver", "lxc", "--order", "-2"), "--order"),
    (("host", "up", "--bogus"), "No such option"),
    (("host", "down", "--timeout", "-1"), "--timeout"),
    (("--host", "elsewhere", "host", "down"), "acts on this host's machines only"),
])
def test_bad_input_changes_nothing(args, message, creature_api, creature_cli, busybox, tools):
    tools.need_driver(creature_api, "lxc")
    creature_cli.ok("create", "web", "--driver", "lxc", "--template", busybox)
    before = snapshot(creature_cli.home)
    result = creature_cli(*args)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("creature: error: ") and message in lines[0], result.err
    assert snapshot(creature_cli.home) == before


def test_host_up_reports_a_machine_that_fails_and_starts_the_rest(creature_api, creature_cli, busybox, tools):
    api, cli = creature_api, creature_cli
    tools.need_driver(api, "lxc")
    for name in ("good", "broken"):
        api.create({"name": name, "driver": "lxc", "template": busybox, "autostart": True})
    # a container whose init does not exist cannot start: lxc-start fails
    config = api.machine("broken").dir / "config"
    config.write_text(config.read_text().replace("lxc.init.cmd = /sbin/init", "lxc.init.cmd = /no/such/init"))
    began = time.monotonic()
    result = cli("host", "up")
    assert time.monotonic() - began < 60
    assert result.code == 1
    assert result.out.startswith("host up: 1 started, 1 failed"), result.out
    assert "creature: error: broken: " in result.err
    assert api.state("good").value == "running" and api.state("broken").value == "stopped"


def _on_a_terminal(cli, *args) -> tuple[int, str]:
    """Run creature with stderr on a real pseudo-terminal; return its exit code and what the terminal showed."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "creature", "--home", str(cli.home), *args],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        slave = None
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
        proc.wait(120)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    return proc.returncode, shown.decode(errors="replace")


def test_progress_on_a_terminal_summary_in_a_pipe(creature_api, creature_cli, busybox, tools):
    api, cli = creature_api, creature_cli
    tools.need_driver(api, "lxc")
    for name, order in (("one", 1), ("two", 2)):
        api.create({"name": name, "driver": "lxc", "template": busybox, "autostart": True, "autostart_order": order})
    code, shown = _on_a_terminal(cli, "host", "up")
    assert code == 0
    assert "one: started" in shown and "two: started" in shown, shown
    assert "host up" in shown and "2/2" in shown, "the bar counts what is done out of what there is"
    piped = cli.ok("host", "down", "--timeout", "20")
    assert piped.err == "", "in a pipe only the summary line is printed"
    assert piped.out.count("\n") == 1 and piped.out.startswith("host down: 2 stopped in ")
