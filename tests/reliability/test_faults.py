"""Fault injection: creature SIGKILLed at each step of create, start, stop and destroy; doctor repairs, nothing lost."""

import pytest

STEPS = [
    ("create.staging", ["create", "victim", "--driver", "lxc", "--template", "bb"], False),
    ("create.files", ["create", "victim", "--driver", "lxc", "--template", "bb"], False),
    ("create.renamed", ["create", "victim", "--driver", "lxc", "--template", "bb"], False),
    ("start.before", ["start", "victim"], True),
    ("start.after", ["start", "victim"], True),
    ("stop.before", ["stop", "victim", "--timeout", "5"], True),
    ("destroy.before", ["destroy", "victim", "--force"], True),
    ("destroy.row", ["destroy", "victim", "--force"], True),
]


@pytest.mark.parametrize("point,argv,needs_victim", STEPS, ids=[s[0] for s in STEPS])
def test_kill_at_each_step(creature_cli, storm_drivers, counts, point, argv, needs_victim):
    cli = creature_cli
    cli.ok("create", "keep", "--driver", "lxc", "--template", "bb")
    cli.ok("start", "keep")
    if needs_victim:
        cli.ok("create", "victim", "--driver", "lxc", "--template", "bb")
        if point.startswith(("stop", "destroy")):
            cli.ok("start", "victim")
    killed = cli(*argv, env={"CREATURE_CRASH_AT": point})
    assert killed.code == -9, f"not killed at {point}: exit {killed.code} {killed.err}"
    counts["faults injected"] += 1
    report = cli("doctor", "--format", "json")
    if report.code != 0:
        assert all(p["kind"] in ("staging", "orphan") for p in report.json()), report.out
        cli.ok("doctor", "--fix")
    assert cli.ok("doctor", "--format", "json").json() == []
    rows = {r["name"]: r for r in cli.ok("list", "--format", "json").json()}
    assert rows["keep"]["state"] == "running"
    assert cli.ok("exec", "keep", "--", "hostname").out.strip() == "keep"
    counts["machines checked"] += len(rows)
    if "victim" in rows:
        # whatever state it was left in, it can be driven to the end
        cli.ok("destroy", "victim", "--force")
    assert not (cli.home / "machines" / "victim").exists()
    cli.ok("create", "victim", "--driver", "lxc", "--template", "bb")
