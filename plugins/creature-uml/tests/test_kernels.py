"""Choosing the UML kernel: real boots judge each one, verdicts are cached per binary and host, settings, refusals."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from creature.sdk import HostFacts
from creature.testing import ConsoleSession, snapshot
from creature_uml import kernels

DEBIAN_12_KERNEL = Path("/usr/bin/linux.uml")


def _working_kernel(api) -> kernels.Kernel:
    from creature.testing import require_usable

    require_usable(api, "uml")
    kernel, judged, _ = api.driver("uml")._kernel()
    assert judged.ok
    return kernel


def test_host_check_names_the_kernel_it_uses_and_its_version(creature_cli, creature_api):
    kernel = _working_kernel(creature_api)
    report = creature_cli.ok("host", "check", "--format", "json").json()["drivers"]["uml"]
    assert report["usable"] is True
    check = next(c for c in report["checks"] if c["name"] == "kernel")
    release = kernels.verdict(kernel).release
    assert check["ok"] and str(kernel.path) in check["reason"] and f"UML {release}" in check["reason"]
    assert "ran a user process here" in check["reason"]


def test_verdicts_come_from_a_real_boot_and_are_cached_per_binary(creature_api, tmp_path, monkeypatch):
    kernel = _working_kernel(creature_api)
    monkeypatch.setenv("CREATURE_CACHE", str(tmp_path / "cache"))
    copy = tmp_path / "linux.uml"
    shutil.copy2(kernel.path, copy)
    judged = kernels.verdict(kernels.Kernel(copy, "test"))
    assert judged.ok and not judged.cached and judged.seconds > 0.1, judged
    again = kernels.verdict(kernels.Kernel(copy, "test"))
    assert again.ok and again.cached and again.reason == judged.reason
    # another binary at the same path (an upgrade) is judged again, not trusted from the old verdict
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 1_000_000_000))
    assert not kernels.verdict(kernels.Kernel(copy, "test")).cached
    # nothing of the probe's UML outlives it
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert "creature-uml-probe." not in out


def test_a_binary_that_is_no_uml_kernel_is_judged_unusable(tmp_path, monkeypatch):
    monkeypatch.setenv("CREATURE_CACHE", str(tmp_path / "cache"))
    fake = tmp_path / "linux.uml"
    fake.write_text("#!/bin/sh\necho 'not a kernel' >&2\nexit 3\n")
    fake.chmod(0o755)
    judged = kernels.verdict(kernels.Kernel(fake, "test"))
    assert not judged.ok and "exited 3" in judged.reason and "not a kernel" in judged.reason


def test_the_setting_wins_and_a_bad_one_is_refused_with_exit_2(creature_cli, creature_api, tmp_path):
    kernel = _working_kernel(creature_api)
    creature_cli.ok("template", "build", "bb", "--method", "busybox")
    # the home's config names the kernel: it is the only candidate
    (creature_cli.home / "config.toml").write_text(f'[uml]\nkernel = "{kernel.path}"\n')
    rows = creature_cli.ok("uml", "kernels", "--format", "json").json()
    assert [r["path"] for r in rows] == [str(kernel.path)] and rows[0]["used"]
    assert rows[0]["origin"] == f"[uml] kernel in {creature_cli.home / 'config.toml'}"
    # the environment wins over the config; one that names no executable is bad input and changes nothing
    before = snapshot(creature_cli.home)
    result = creature_cli("create", "u1", "--driver", "uml", "--template", "bb",
                          env={kernels.SETTING: str(tmp_path / "missing")})
    assert result.code == 2, result.err
    assert result.err.splitlines() == [result.err.strip()] and "is not an executable file" in result.err
    assert f"{kernels.SETTING} names" in result.err
    assert snapshot(creature_cli.home) == before


def test_debian_12_kernel_on_a_cpu_with_amx_is_refused_with_the_cause_and_the_fix(creature_cli, creature_api):
    amx = sorted(f for f in HostFacts().cpu_flags if f.startswith("amx"))
    if not amx:
        pytest.skip("this CPU has no AMX: Debian 12's linux.uml runs user processes here, there is no refusal to see")
    if not DEBIAN_12_KERNEL.exists():
        pytest.skip("Debian's user-mode-linux package is not installed")
    creature_cli.ok("template", "build", "bb", "--method", "busybox")
    env = {kernels.SETTING: str(DEBIAN_12_KERNEL)}
    report = creature_cli.ok("host", "check", "--format", "json", env=env).json()["drivers"]["uml"]
    assert report["usable"] is False
    reason = next(c for c in report["checks"] if c["name"] == "kernel")["reason"]
    assert "ptrace set fp regs failed, errno = 14" in reason and "XSAVE" in reason and "AMX" in reason
    assert "creature uml fetch-kernel" in reason, "the reason names the fix"
    before = snapshot(creature_cli.home)
    result = creature_cli("create", "u1", "--driver", "uml", "--template", "bb", env=env)
    assert result.code == 2, result.err
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("creature: error: driver 'uml' is not usable on this host: ")
    assert "ptrace set fp regs failed" in lines[0]
    assert snapshot(creature_cli.home) == before


def test_show_names_the_kernel_a_machine_booted(creature_cli, creature_api):
    kernel = _working_kernel(creature_api)
    release = kernels.verdict(kernel).release
    creature_cli.ok("template", "build", "bb", "--method", "busybox")
    creature_cli.ok("create", "uk", "--driver", "uml", "--template", "bb", "--memory", "96M")
    stopped = creature_cli.ok("show", "uk", "--format", "json").json()["details"]["kernel"]
    assert stopped.startswith(f"{kernel.path} (UML {release}") and stopped.endswith("used at the next start")
    creature_cli.ok("start", "uk")
    try:
        assert creature_cli.ok("show", "uk", "--format", "json").json()["details"]["kernel"].startswith(
            f"{kernel.path} (UML {release}")
        assert f"kernel:     {kernel.path}" in creature_cli.ok("show", "uk").out
    finally:
        creature_cli.ok("kill", "uk")


def test_more_than_one_cpu_is_refused_not_ignored(creature_cli, creature_api):
    _working_kernel(creature_api)
    creature_cli.ok("template", "build", "bb", "--method", "busybox")
    before = snapshot(creature_cli.home)
    result = creature_cli("create", "uc", "--driver", "uml", "--template", "bb", "--cpus", "2")
    assert result.code == 2 and "one virtual CPU" in result.err, result.err
    assert snapshot(creature_cli.home) == before


def test_a_guest_cannot_mount_host_files_through_hostfs(creature_api):
    api = creature_api
    _working_kernel(api)
    api.templates.build("bb", "busybox")
    api.create({"name": "uh", "driver": "uml", "template": "bb", "memory": "96M"})
    api.start("uh")
    session = ConsoleSession.open(api.driver("uml").console_device(api.machine("uh")))
    try:
        session.login()
        assert "hostfs" in session.run("cat /proc/filesystems")[1], "the kernel has hostfs: a refusal is the confinement"
        assert session.run("mkdir -p /mnt/h")[0] == 0
        # hostfs= only prefixes the path a guest asks for, so `..` would walk out of any folder that exists
        for data in ("/etc", "/", "", "..", "../../../../../../.."):
            code, out = session.run(f"mount -t hostfs hostfs /mnt/h -o '{data}'")
            assert code != 0, f"hostfs mounted host path {data!r}: {out}"
        assert session.run("ls -A /mnt/h") == (0, ""), "nothing of the host shows in the guest"
    finally:
        session.close()
        api.kill("uh")


def test_fetched_layout_boots_from_local_packages(creature_api, tmp_path, monkeypatch):
    """fetch's unpack-and-patch step on .deb files built here from a working kernel (no network in tests)."""
    from creature_uml import fetch

    kernel = _working_kernel(creature_api)
    if kernel.path.parent.parent != kernels.fetched_root():
        pytest.skip(f"the kernel in use ({kernel.path}) is not a fetched one: its private libc is what this step installs")
    source = kernel.path.parent
    debs = tmp_path / "debs"
    debs.mkdir()
    for package, files in (("user-mode-linux", {"usr/bin/linux.uml": source / "linux.uml"}),
                           ("libc6", {fetch.LIBDIR: source / "lib"})):
        root = tmp_path / package
        for target, origin in files.items():
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if origin.is_dir() else shutil.copy2)(origin, root / target)
        (root / "DEBIAN").mkdir()
        (root / "DEBIAN/control").write_text(f"Package: {package}\nVersion: 9.9test\nArchitecture: amd64\n"
                                             "Maintainer: creature tests <root@localhost>\nDescription: test\n")
        subprocess.run(["dpkg-deb", "--build", "-Znone", str(root), str(debs / f"{package}.deb")],
                       check=True, capture_output=True)
    monkeypatch.setenv("CREATURE_CACHE", str(tmp_path / "cache"))
    final = kernels.fetched_root() / "9.9test"
    fetch.install(debs, final, {"suite": "test", "mirror": "file:///nowhere", "version": "9.9test", "libc6": "9.9test"})
    interp = subprocess.run(["patchelf", "--print-interpreter", str(final / "linux.uml")], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert interp == str(final / "lib" / "ld-linux-x86-64.so.2")
    assert json.loads((final / "source.json").read_text())["version"] == "9.9test"
    (found,) = kernels.fetched_kernels()
    assert found.path == final / "linux.uml" and found.origin == "fetched: Debian test user-mode-linux 9.9test"
    assert kernels.verdict(found).ok
    # --if-missing uses the cached kernel and no network at all (the mirror given cannot be reached)
    assert fetch.fetch(mirror="http://127.0.0.1:9/", if_missing=True, say=lambda line: None).path == found.path
    assert not list(kernels.fetched_root().glob(".fetch-*")), "no work folder is left behind"


def test_fetch_refuses_bad_input_before_using_the_network(creature_cli):
    for args, message in ((["--suite", "../etc"], "invalid suite"), (["--mirror", "ftp://x"], "invalid mirror")):
        result = creature_cli("uml", "fetch-kernel", *args)
        assert result.code == 2 and message in result.err, result.err
