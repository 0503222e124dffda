"""The executable answers plain `list` and `show` before importing click, with exactly the full command line's output."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

RUN = textwrap.dedent("""\
    import atexit, sys
    atexit.register(lambda: sys.stderr.write("CLICK " + str("click" in sys.modules) + "\\n"))
    from {module} import main
    main({argv!r})
    """)


def run(home, module: str, *argv: str) -> tuple[int, str, str, bool]:
    """(exit code, stdout, stderr, whether click was imported) of main() of module in a fresh interpreter."""
    code = RUN.format(module=module, argv=["--home", str(home), *argv])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = proc.stderr.splitlines()
    return proc.returncode, proc.stdout, "\n".join(lines[:-1]), lines[-1] == "CLICK True"


@pytest.fixture
def two_machines(lxc_usable):
    api = lxc_usable
    api.templates.build("bb", "busybox")
    for name in ("up", "down"):
        api.create({"name": name, "driver": "lxc", "template": "bb"})
    api.start("up")
    yield api
    for machine in api.list_machines():  # tests stop and destroy them too
        if machine.state.value == "running":
            api.kill(machine.name)


@pytest.mark.parametrize("argv", [
    ["list"], ["list", "--format", "json"], ["list", "--format=csv"], ["list", "--driver", "lxc", "--state", "running"],
    ["show", "up"], ["show", "down", "--format", "json"], ["show", "--format", "json", "up"],
])
def test_plain_reads_answer_like_the_full_command_line_without_click(two_machines, argv):
    home = two_machines.home.root
    fast = run(home, "creature.entry", *argv)
    full = run(home, "creature.cli", *argv)
    assert fast[:3] == full[:3] and fast[0] == 0, (fast, full)
    assert not fast[3] and full[3], "the plain form is answered without click"


@pytest.mark.parametrize("argv", [["show", "nosuch"], ["list", "--state", "dreaming"], ["list", "--driver", "nosuch"]])
def test_bad_input_fails_the_same_way(two_machines, argv):
    home = two_machines.home.root
    fast, full = run(home, "creature.entry", *argv), run(home, "creature.cli", *argv)
    assert fast[:3] == full[:3] and fast[0] == 2 and fast[2].startswith("creature: error: "), (fast, full)


@pytest.mark.parametrize("argv", [["list", "--format", "xml"], ["show"], ["show", "a", "b"], ["list", "--all-hosts"],
                                  ["list", "--help"], ["--debug", "list"], ["list", "--driver"]])
def test_other_forms_go_to_the_full_command_line(creature_home, argv):
    fast, full = run(creature_home, "creature.entry", *argv), run(creature_home, "creature.cli", *argv)
    assert fast == full and fast[3], (fast, full)


def test_plain_start_does_what_the_full_command_line_does_without_click(two_machines):
    api, home = two_machines, two_machines.home.root
    code, out, err, click_used = run(home, "creature.entry", "start", "down")
    assert (code, out, err) == (0, "", "") and not click_used
    assert api.state("down").value == "running"
    api.kill("down")
    # errors: the same line and code both ways, and nothing started
    for argv in (["start", "nosuch"], ["start", "up"], ["start", "down", "nosuch"]):
        fast, full = run(home, "creature.entry", *argv), run(home, "creature.cli", *argv)
        assert fast[:3] == full[:3] and fast[0] in (1, 2) and not fast[3], (argv, fast, full)
    assert api.state("down").value == "stopped", "an unknown name among them starts none"
    # several names: each started, in order
    api.kill("up")
    assert run(home, "creature.entry", "start", "up", "down")[:3] == (0, "", "")
    assert {api.state(n).value for n in ("up", "down")} == {"running"}
    api.kill("down")


def test_plain_stop_kill_destroy_do_what_the_full_command_line_does_without_click(two_machines):
    api, home = two_machines, two_machines.home.root
    assert run(home, "creature.entry", "kill", "up")[:4] == (0, "", "", False)
    assert api.state("up").value == "stopped"
    api.start("up")
    # busybox's init stops on SIGPWR well within the timeout: nothing said
    assert run(home, "creature.entry", "stop", "up", "--timeout", "20")[:4] == (0, "", "", False)
    assert api.state("up").value == "stopped"
    api.start("up")
    # errors: the same line and code both ways, and nothing changed
    for argv in (["kill", "down"], ["stop", "up", "nosuch"], ["destroy", "up"], ["destroy", "down", "nosuch"]):
        fast, full = run(home, "creature.entry", *argv), run(home, "creature.cli", *argv)
        assert fast[:3] == full[:3] and fast[0] in (1, 2) and not fast[3], (argv, fast, full)
    assert api.state("up").value == "running" and {m.name for m in api.list_machines()} == {"up", "down"}
    assert run(home, "creature.entry", "destroy", "down", "down")[:4] == (0, "", "", False)
    assert run(home, "creature.entry", "destroy", "--force", "up")[:4] == (0, "", "", False)
    assert api.list_machines() == []


@pytest.mark.parametrize("argv", [["stop", "up", "--timeout", "-1"], ["stop", "up", "--timeout", "soon"], ["kill", "--all"],
                                  ["destroy", "--force=yes", "up"], ["stop", "--dry-run", "up"], ["destroy"]])
def test_action_forms_it_does_not_know_go_to_click_and_change_nothing(two_machines, argv):
    api, home = two_machines, two_machines.home.root
    fast, full = run(home, "creature.entry", *argv), run(home, "creature.cli", *argv)
    assert fast == full and fast[3], (fast, full)
    if "--dry-run" not in argv and argv != ["kill", "--all"]:
        assert fast[0] == 2
    assert api.state("up").value == "running" if argv != ["kill", "--all"] else api.state("up").value == "stopped"


def test_the_executable_skips_teardown_but_leaves_the_inventory_whole(lxc_usable):
    """Run as the command itself, a plain form ends with os._exit: its output is all there, the inventory's
    write-ahead log folded into inventory.sqlite (a copy of that file alone holds the change), the exit code kept."""
    api = lxc_usable
    api.templates.build("bb", "busybox")
    for name in ("a", "b"):
        api.create({"name": name, "driver": "lxc", "template": "bb"})
    home = api.home.root
    api.inventory.close()  # ours would keep the log open: the command's connection is then the last one
    command = [sys.executable, "-m", "creature", "--home", str(home)]
    done = subprocess.run([*command, "destroy", "a"], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not (home / "inventory.sqlite-wal").exists()
    import sqlite3

    alone = home.parent / "copy.sqlite"
    alone.write_bytes((home / "inventory.sqlite").read_bytes())
    assert [r[0] for r in sqlite3.connect(alone).execute("SELECT name FROM machines")] == ["b"]
    listed = subprocess.run([*command, "list", "--format", "json"], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and [m["name"] for m in json.loads(listed.stdout)] == ["b"]
    refused = subprocess.run([*command, "destroy", "nosuch"], capture_output=True, text=True, timeout=120)
    assert (refused.returncode, refused.stdout, refused.stderr) == (2, "", "creature: error: no machine named 'nosuch'\n")
    api.start("b")  # a running machine is listed and shown through the API, which opens the inventory again
    api.inventory.close()
    try:
        for argv in (["list"], ["show", "b"]):
            assert subprocess.run([*command, *argv], capture_output=True, text=True, timeout=120).returncode == 0
            assert sorted(p.name for p in home.glob("inventory.sqlite*")) == ["inventory.sqlite"], argv
    finally:
        api.kill("b")


def test_the_executable_says_nothing_when_its_reader_goes_away(lxc_usable):
    """`creature list | head -1`: both ways end with status 1 and say nothing, like the full command line (click)."""
    import fcntl
    import os

    api = lxc_usable
    api.templates.build("bb", "busybox")
    for i in range(30):
        api.create({"name": f"m{i:02d}", "driver": "lxc", "template": "bb"})
    argv = ["--home", str(api.home.root), "list", "--format", "json"]
    ends = []
    for command in (["-m", "creature", *argv], ["-c", f"from creature.cli import main; main({argv!r})"]):
        reader, writer = os.pipe()
        fcntl.fcntl(writer, 1031, 4096)  # F_SETPIPE_SZ: a page, less than the listing, so a write fails for sure
        proc = subprocess.Popen([sys.executable, *command], stdout=writer, stderr=subprocess.PIPE)
        os.close(writer)
        os.close(reader)
        ends.append((proc.wait(timeout=120), proc.stderr.read()))
    assert ends == [(1, b""), (1, b"")], ends
