"""Facts a probe learns by running programs are remembered until the programs (or PATH) change."""

import os

from creature.builtin.support.facts import remembered, tools


def test_a_fact_is_learned_once_and_again_when_its_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("CREATURE_CACHE", str(tmp_path / "cache"))
    tool = tmp_path / "tool"
    tool.write_text("v1")
    calls = []

    def learn():
        version = tool.read_text() if tool.exists() else None
        calls.append(version)
        return {"version": version}, [str(tool)]

    assert remembered("t", learn) == {"version": "v1"}
    assert remembered("t", learn) == {"version": "v1"} and calls == ["v1"]
    tool.write_text("v2!")  # an upgrade: size and mtime differ
    assert remembered("t", learn) == {"version": "v2!"} and calls == ["v1", "v2!"]
    tool.unlink()  # gone: learned again, and the probe then says so
    assert remembered("t", learn) == {"version": None} and calls == ["v1", "v2!", None]


def test_tools_are_found_and_versioned_per_path(tmp_path, monkeypatch):
    monkeypatch.setenv("CREATURE_CACHE", str(tmp_path / "cache"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    prog = bin_dir / "mytool"
    prog.write_text("#!/bin/sh\necho 'mytool 1.2'\n")
    prog.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    found = tools("mine", ("mytool", "no-such-tool-here"), ("--version",))
    assert found["paths"]["mytool"] == str(prog) and found["paths"]["no-such-tool-here"] is None
    assert found["version"] == ""  # one tool is missing: no version is asked
    found = tools("mine2", ("mytool",), ("--version",))
    assert found["version"] == "mytool 1.2"
    prog.write_text("#!/bin/sh\necho 'mytool 1.3 (new)'\n")
    assert tools("mine2", ("mytool",), ("--version",))["version"] == "mytool 1.3 (new)"
