"""Bad input: one line `creature: error: ...`, exit 2, no traceback, and nothing changed."""

import pytest
from creature.testing import snapshot

LONG = "a" * 200


@pytest.fixture
def populated(creature_cli, busybox, tmp_path):
    """A home with a template `bb`, a stopped machine `web`, and a destroyed machine `gone`."""
    creature_cli.ok("create", "web", "--driver", "lxc", "--template", busybox)
    creature_cli.ok("create", "gone", "--driver", "lxc", "--template", busybox)
    creature_cli.ok("destroy", "gone")
    (tmp_path / "malformed.toml").write_text('name = "x"\ntemplate = [unclosed\n')
    (tmp_path / "unknown.toml").write_text('name = "x"\ndriver = "lxc"\ntemplate = "bb"\ncolour = "blue"\n')
    (tmp_path / "badmem.toml").write_text('name = "x"\ndriver = "lxc"\ntemplate = "bb"\nmemory = "lots"\n')
    (tmp_path / "noname.toml").write_text('driver = "lxc"\ntemplate = "bb"\n')
    return tmp_path


CREATE = ["create", "--driver", "lxc", "--template", "bb"]
CASES = {
    "name with a slash": (CREATE + ["../x"], "invalid"),
    "name with a space": (CREATE + ["a b"], "invalid"),
    "name of 200 characters": (CREATE + [LONG], "invalid"),
    "non-ASCII name": (CREATE + ["héllo"], "invalid"),
    "empty name": (CREATE + [""], "invalid"),
    "upper-case name": (CREATE + ["Web"], "invalid"),
    "name with a dot": (CREATE + ["a.b"], "invalid"),
    "name ending in a dash": (CREATE + ["web-"], "invalid"),
    "unknown driver": (["create", "x", "--driver", "nosuch", "--template", "bb"], "unknown driver 'nosuch'"),
    "unknown template": (["create", "x", "--driver", "lxc", "--template", "nosuch"], "no template named 'nosuch'"),
    "no template": (["create", "x", "--driver", "lxc"], "needs a template"),
    "memory lots": (CREATE + ["x", "--memory", "lots"], "invalid memory size 'lots'"),
    "memory -1": (CREATE + ["x", "--memory", "-1"], "invalid memory size '-1'"),
    "memory 0": (CREATE + ["x", "--memory", "0"], "out of range"),
    "memory 10T": (CREATE + ["x", "--memory", "10T"], "out of range"),
    "cpus 0": (CREATE + ["x", "--cpus", "0"], "cpus"),
    "cpus -2": (CREATE + ["x", "--cpus", "-2"], "cpus"),
    "cpus abc": (CREATE + ["x", "--cpus", "abc"], "abc"),
    "duplicate name": (CREATE + ["web"], "machine 'web' already exists"),
    "malformed spec file": (["create", "-f", "{tmp}/malformed.toml"], "not valid TOML"),
    "unknown key in spec file": (["create", "-f", "{tmp}/unknown.toml"], "colour"),
    "bad memory in spec file": (["create", "-f", "{tmp}/badmem.toml"], "invalid memory size"),
    "spec file without a name": (["create", "-f", "{tmp}/noname.toml"], "needs a name"),
    "missing spec file": (["create", "-f", "{tmp}/nosuch.toml"], "does not exist"),
    "start unknown machine": (["start", "nosuch"], "no machine named 'nosuch'"),
    "start destroyed machine": (["start", "gone"], "no machine named 'gone'"),
    "start names and --all": (["start", "web", "--all"], "not both"),
    "start nothing": (["start"], "--all"),
    "stop unknown machine": (["stop", "nosuch"], "no machine named"),
    "stop negative timeout": (["stop", "web", "--timeout", "-5"], "timeout"),
    "kill unknown machine": (["kill", "nosuch"], "no machine named"),
    "restart unknown machine": (["restart", "nosuch"], "no machine named"),
    "show unknown machine": (["show", "nosuch"], "no machine named"),
    "show a path": (["show", "../../etc"], "invalid machine name"),
    "destroy unknown machine": (["destroy", "nosuch"], "no machine named"),
    "destroy destroyed machine": (["destroy", "gone"], "no machine named"),
    "exec unknown machine": (["exec", "nosuch", "--", "true"], "no machine named"),
    "exec without a command": (["exec", "web"], "needs a command"),
    "console unknown machine": (["console", "nosuch"], "no machine named"),
    "list unknown format": (["list", "--format", "xml"], "xml"),
    "list unknown driver": (["list", "--driver", "nosuch"], "unknown driver"),
    "list unknown state": (["list", "--state", "sleeping"], "unknown state"),
    "template name in use": (["template", "build", "bb", "--method", "busybox"], "already exists"),
    "unknown template method": (["template", "build", "t2", "--method", "nosuch"], "unknown template method"),
    "bad template name": (["template", "build", "../t", "--method", "busybox"], "invalid template name"),
    "template option without =": (["template", "build", "t3", "--method", "busybox", "--option", "x"], "KEY=VALUE"),
    "option busybox does not take": (["template", "build", "t3", "--method", "busybox", "--option", "a=b"], "takes no options"),
    "remove unknown template": (["template", "rm", "nosuch"], "no template named"),
    "remove template in use": (["template", "rm", "bb"], "used by web"),
    "unknown command": (["frobnicate"], "frobnicate"),
    # what only some drivers take (clusters: creature-ganeti), refused by the others
    "node on a driver without placement": (CREATE + ["x", "--node", "n1"], "does not support placement on a node (--node)"),
    "create option the driver does not take": (CREATE + ["x", "--option", "disk_size=2G"], "driver 'lxc' takes no --option (got disk_size)"),
    "create option without =": (CREATE + ["x", "--option", "disk_size"], "KEY=VALUE"),
    "migrate on a driver without it": (["migrate", "web"], "does not support live migration"),
    "failover on a driver without it": (["failover", "web", "--node", "n1"], "does not support failover"),
    "migrate unknown machine": (["migrate", "nosuch"], "no machine named 'nosuch'"),
    "host add with a local-only driver": (["host", "add", "h1", "lxc+ssh://h/", "--driver", "lxc"], "manages this host only"),
    "host add option the driver does not take": (["host", "add", "h1", "qemu+ssh://u@h/system", "--option", "a=b"],
                                                 "driver 'libvirt-qemu' takes no --option a for a host"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(creature_cli, populated, case):
    args, expected = CASES[case]
    args = [a.replace("{tmp}", str(populated)) for a in args]
    before = snapshot(creature_cli.home)
    result = creature_cli(*args)
    assert result.code == 2, f"exit {result.code}: {result.err}"
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("creature: error: ")
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.err and result.out == ""
    assert snapshot(creature_cli.home) == before, "bad input changed the home"


def test_there_are_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_destroy_takes_several_names_and_a_bad_one_destroys_none(creature_cli):
    creature_cli.ok("template", "build", "bb", "--method", "busybox")
    for n in ("d1", "d2", "d3"):
        creature_cli.ok("create", n, "--driver", "lxc", "--template", "bb")
    before = snapshot(creature_cli.home)
    bad = creature_cli("destroy", "d1", "nosuch", "d2")
    assert bad.code == 2 and bad.err == "creature: error: no machine named 'nosuch'\n"
    assert snapshot(creature_cli.home) == before
    creature_cli.ok("destroy", "d1", "d2")
    assert [r["name"] for r in creature_cli.ok("list", "--format", "json").json()] == ["d3"]
