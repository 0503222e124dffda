"""A create or destroy killed part-way leaves no half machine; `doctor` finds and `doctor --fix` removes leftovers."""

import os

import pytest


@pytest.mark.parametrize("point", ["create.staging", "create.files", "create.renamed"])
def test_killed_create_leaves_no_machine(creature_cli, busybox, point):
    creature_cli.ok("create", "keep", "--driver", "lxc", "--template", busybox)
    killed = creature_cli("create", "web", "--driver", "lxc", "--template", busybox, env={"CREATURE_CRASH_AT": point})
    assert killed.code == -9, f"the create was not killed at {point}: {killed.err}"
    assert [r["name"] for r in creature_cli.ok("list", "--format", "json").json()] == ["keep"]
    report = creature_cli("doctor", "--format", "json")
    assert report.code == 1
    problems = report.json()
    assert problems and all(not p["fixed"] for p in problems)
    assert any("web" in p["path"] for p in problems)
    fixed = creature_cli("doctor", "--fix", "--format", "json")
    assert fixed.code == 0 and all(p["fixed"] for p in fixed.json())
    assert creature_cli.ok("doctor", "--format", "json").json() == []
    home = creature_cli.home
    assert os.listdir(home / "staging") == []
    assert sorted(os.listdir(home / "machines")) == ["keep"]
    # the name is free again, and the machine that existed is intact
    creature_cli.ok("create", "web", "--driver", "lxc", "--template", busybox)
    creature_cli.ok("start", "keep")
    assert creature_cli.ok("exec", "keep", "--", "hostname").out.strip() == "keep"


def test_killed_destroy_is_repaired(creature_cli, busybox):
    creature_cli.ok("create", "web", "--driver", "lxc", "--template", busybox)
    killed = creature_cli("destroy", "web", env={"CREATURE_CRASH_AT": "destroy.row"})
    assert killed.code == -9
    assert creature_cli.ok("list", "--format", "json").json() == []
    problems = creature_cli("doctor", "--format", "json").json()
    assert [p["kind"] for p in problems] == ["orphan"]
    creature_cli.ok("doctor", "--fix")
    assert not (creature_cli.home / "machines" / "web").exists()


def test_doctor_leaves_work_in_progress_alone(creature_api, busybox):
    """A staging folder whose creator still holds the machine lock is not a leftover."""
    staging = creature_api.home.staging / f"machine.busy.{os.getpid()}"
    staging.mkdir()
    with creature_api.home.lock("machine", "busy"):
        assert creature_api.doctor(fix=True) == []
        assert staging.exists()
    assert [p["kind"] for p in creature_api.doctor(fix=True)] == ["staging"]
    assert not staging.exists()
