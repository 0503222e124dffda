"""creature.procs.which: PATH and the sbin folders, like shutil.which, and never the current folder."""

from __future__ import annotations

import os
import shutil

from creature.procs import which


def test_which_finds_what_shutil_finds_and_the_sbin_folders(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    assert which("sh") == shutil.which("sh")
    assert which("ip") == shutil.which("ip", path="/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin")
    assert which("no-such-program-here") is None
    assert which("/bin/sh") == "/bin/sh" and which("/etc") is None and which("/no/such") is None


def test_which_never_looks_in_the_current_folder(monkeypatch, tmp_path):
    tool = tmp_path / "creature-test-tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (tmp_path / "adir").mkdir(mode=0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "")  # an empty entry means the current folder to a shell
    assert which("creature-test-tool") is None
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin")
    assert which("creature-test-tool") == str(tool) and which("adir") is None
