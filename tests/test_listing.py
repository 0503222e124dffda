"""The listing contract: `creature list` in table, JSON and CSV, and `show`."""

import csv
import io

KEYS = {"name", "driver", "state", "autostart", "template", "cpus", "memory", "macs", "ips"}


def test_list_formats(creature_cli, busybox):
    creature_cli.ok("create", "web", "--driver", "lxc", "--template", busybox, "--memory", "128M", "--cpus", "2")
    creature_cli.ok("create", "db", "--driver", "lxc", "--template", busybox)
    creature_cli.ok("start", "web")
    rows = creature_cli.ok("list", "--format", "json").json()
    assert isinstance(rows, list) and [r["name"] for r in rows] == ["db", "web"]
    for r in rows:
        assert set(r) == KEYS
    web = rows[1]
    assert web == {"name": "web", "driver": "lxc", "state": "running", "autostart": False, "template": busybox,
                   "cpus": 2, "memory": 128, "macs": [], "ips": []}
    assert rows[0]["state"] == "stopped"
    parsed = list(csv.DictReader(io.StringIO(creature_cli.ok("list", "--format", "csv").out)))
    assert [(r["name"], r["state"]) for r in parsed] == [("db", "stopped"), ("web", "running")]
    table = creature_cli.ok("list").out
    assert "NAME" in table and "web" in table and "running" in table
    assert [r["name"] for r in creature_cli.ok("list", "--state", "running", "--format", "json").json()] == ["web"]
    assert [r["name"] for r in creature_cli.ok("list", "--driver", "lxc", "--format", "json").json()] == ["db", "web"]
    shown = creature_cli.ok("show", "web", "--format", "json").json()
    assert shown["clone"] == "overlayfs" and shown["state"] == "running"


def test_start_and_stop_all(creature_cli, busybox):
    for name in ("a1", "a2", "a3"):
        creature_cli.ok("create", name, "--driver", "lxc", "--template", busybox)
    creature_cli.ok("start", "a2")
    creature_cli.ok("start", "--all")
    assert {r["state"] for r in creature_cli.ok("list", "--format", "json").json()} == {"running"}
    creature_cli.ok("stop", "--all", "--timeout", "10")
    assert {r["state"] for r in creature_cli.ok("list", "--format", "json").json()} == {"stopped"}


def test_restart_and_exec_exit_status(creature_cli, busybox):
    creature_cli.ok("create", "r1", "--driver", "lxc", "--template", busybox)
    creature_cli.ok("start", "r1")
    creature_cli.ok("restart", "r1", "--timeout", "10")
    assert creature_cli.ok("show", "r1", "--format", "json").json()["state"] == "running"
    assert creature_cli("exec", "r1", "--", "sh", "-c", "exit 3").code == 3
    assert creature_cli.ok("exec", "r1", "--", "hostname").out.strip() == "r1"


def test_create_from_spec_file(creature_cli, busybox, tmp_path):
    spec = tmp_path / "machine.toml"
    spec.write_text(f'name = "fromfile"\ndriver = "lxc"\ntemplate = "{busybox}"\ncpus = 2\nmemory = "192M"\nautostart = true\n')
    creature_cli.ok("create", "-f", str(spec))
    shown = creature_cli.ok("show", "fromfile", "--format", "json").json()
    assert (shown["cpus"], shown["memory"], shown["autostart"]) == (2, 192, True)
    # the command line overrides the file
    creature_cli.ok("create", "other", "-f", str(spec), "--memory", "64M")
    assert creature_cli.ok("show", "other", "--format", "json").json()["memory"] == 64


def test_a_new_home_is_created_by_a_first_read(tmp_path):
    from creature.testing import CLI

    home = tmp_path / "brand" / "new"
    cli = CLI(home)
    assert cli.ok("list", "--format", "json").json() == []
    assert cli.ok("template", "list", "--format", "csv").out.splitlines() == ["name,method,os,suite,size,created,machines"]
    assert oct(home.stat().st_mode & 0o777) == "0o700"
