"""Snapshots and export/import through the command line: bad input changes nothing, an interrupted operation leaves the
old state or the new one (never a half snapshot or archive listed as complete), doctor finds what is left, destroy
takes the snapshots along. The per-driver guest checks are in creature.testing_snapshots (DriverConformance)."""

import os
import subprocess
import sys

import pytest
from creature.testing import require_usable, snapshot

PROOF = "/creature-snapshot-proof"


def _write(cli, name, text):
    cli.ok("exec", name, "--", "sh", "-c", f"echo {text} > {PROOF}")


def _read(cli, name):
    return cli.ok("exec", name, "--", "cat", PROOF).out.strip()


def _snaps(cli, name):
    return [s["name"] for s in cli.ok("snapshot", "list", name, "--format", "json").json()]


@pytest.fixture
def web(creature_cli, busybox):
    """A started busybox LXC machine `web` with 'first' in the proof file."""
    creature_cli.ok("create", "web", "--driver", "lxc", "--template", busybox)
    creature_cli.ok("start", "web")
    _write(creature_cli, "web", "first")
    return "web"


@pytest.fixture
def qemu_vm(creature_cli, creature_api):
    """A stopped (never started) qemu machine `vm`: its snapshots are native qcow2 ones, made by qemu-img."""
    require_usable(creature_api, "qemu")
    creature_cli.ok("template", "build", "bb", "--method", "busybox")
    creature_cli.ok("create", "vm", "--driver", "qemu", "--template", "bb")
    return "vm"


@pytest.mark.parametrize("argv, message", [
    (("snapshot", "create", "nosuch", "s1"), "no machine named 'nosuch'"),
    (("snapshot", "create", "web", "Bad_Name"), "invalid snapshot name"),
    (("snapshot", "restore", "web", "nosuch"), "has no snapshot named 'nosuch'"),
    (("snapshot", "rm", "web", "nosuch"), "has no snapshot named 'nosuch'"),
    (("snapshot", "list", "nosuch"), "no machine named 'nosuch'"),
    (("export", "nosuch", "-o", "/tmp/x.tar"), "no machine named 'nosuch'"),
    (("export", "web", "-o", "/tmp/x.tar", "--compression", "lz4"), "Invalid value for '--compression'"),
    (("import", "/nonexistent/archive"), "No such file or directory"),
    (("snapshot", "create", "web", "s1", "--memory"), "No such option"),
])
def test_bad_input_exits_2_and_changes_nothing(creature_cli, web, argv, message):
    before = snapshot(creature_cli.home)
    result = creature_cli(*argv)
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1 and result.err.startswith("creature: error: ") and message in result.err, result.err
    assert snapshot(creature_cli.home) == before


def test_duplicate_snapshot_is_refused(creature_cli, web):
    creature_cli.ok("snapshot", "create", "web", "s1")
    before = snapshot(creature_cli.home)
    again = creature_cli("snapshot", "create", "web", "s1")
    assert again.code == 2 and "already has a snapshot named 's1'" in again.err
    assert snapshot(creature_cli.home) == before


def test_rm_with_one_unknown_name_removes_none(creature_cli, web):
    creature_cli.ok("snapshot", "create", "web", "s1")
    before = snapshot(creature_cli.home)
    result = creature_cli("snapshot", "rm", "web", "s1", "nosuch")
    assert result.code == 2 and "no snapshot named 'nosuch'" in result.err
    assert snapshot(creature_cli.home) == before and _snaps(creature_cli, "web") == ["s1"]


def test_snapshot_of_a_template_clone_survives_other_clones(creature_cli, web, busybox):
    """The template under web's overlay is shared: another machine of it writing, and going, changes nothing of web's snapshot."""
    cli = creature_cli
    cli.ok("snapshot", "create", "web", "s1")
    _write(cli, "web", "second")
    cli.ok("create", "other", "--driver", "lxc", "--template", busybox)
    cli.ok("start", "other")
    _write(cli, "other", "other-machine")
    cli.ok("exec", "other", "--", "sh", "-c", "echo changed > /etc/motd")
    cli.ok("destroy", "other", "--force")
    cli.ok("stop", "web")
    cli.ok("snapshot", "restore", "web", "s1")
    cli.ok("start", "web")
    assert _read(cli, "web") == "first"
    assert cli("exec", "web", "--", "cat", "/etc/motd").code != 0, "another clone's file reached web"


def test_destroy_removes_the_snapshots(creature_cli, web):
    creature_cli.ok("snapshot", "create", "web", "s1")
    creature_cli.ok("destroy", "web", "--force")
    assert not (creature_cli.home / "machines" / "web").exists()
    assert creature_cli.ok("doctor", "--format", "json").json() == []


@pytest.mark.parametrize("point", ["snapshot.staging", "snapshot.native", "snapshot.recorded"])
def test_killed_snapshot_is_not_listed_and_doctor_clears_it(creature_cli, web, point):
    cli = creature_cli
    killed = cli("snapshot", "create", "web", "s1", env={"CREATURE_CRASH_AT": point})
    assert killed.code == -9, killed.err
    assert _snaps(cli, "web") == []
    problems = cli("doctor", "--format", "json").json()
    assert [p["kind"] for p in problems] == ["snapshot"] and ".new.s1." in problems[0]["path"]
    assert cli("doctor", "--fix", "--format", "json").code == 0
    assert cli.ok("doctor", "--format", "json").json() == []
    assert os.listdir(cli.home / "machines" / "web" / "snapshots") == []
    cli.ok("snapshot", "create", "web", "s1")  # the name is free, and the snapshot works
    _write(cli, "web", "second")
    cli.ok("stop", "web")
    cli.ok("snapshot", "restore", "web", "s1")
    cli.ok("start", "web")
    assert _read(cli, "web") == "first"


def test_killed_restore_leaves_the_old_state(creature_cli, web):
    cli = creature_cli
    cli.ok("snapshot", "create", "web", "s1")
    _write(cli, "web", "second")
    cli.ok("stop", "web")
    killed = cli("snapshot", "restore", "web", "s1", env={"CREATURE_CRASH_AT": "restore.swap"})
    assert killed.code == -9
    problems = cli("doctor", "--format", "json").json()
    assert [p["kind"] for p in problems] == ["snapshot"] and "/.swap." in problems[0]["path"]
    cli.ok("start", "web")
    assert _read(cli, "web") == "second", "a restore killed before its swap must leave the machine as it was"
    cli.ok("stop", "web")
    cli.ok("doctor", "--fix")
    cli.ok("snapshot", "restore", "web", "s1")
    cli.ok("start", "web")
    assert _read(cli, "web") == "first"


def test_killed_rm_unlists_first(creature_cli, web):
    cli = creature_cli
    cli.ok("snapshot", "create", "web", "s1")
    killed = cli("snapshot", "rm", "web", "s1", env={"CREATURE_CRASH_AT": "snapshot.unlisted"})
    assert killed.code == -9
    assert _snaps(cli, "web") == []
    assert [p["kind"] for p in cli("doctor", "--format", "json").json()] == ["snapshot"]
    cli.ok("doctor", "--fix")
    assert cli.ok("doctor", "--format", "json").json() == []


def test_native_snapshot_without_record_is_found_and_blocks_its_name(creature_cli, qemu_vm):
    """A qcow2 snapshot made by qemu-img whose record was never written: not listed, refused as a name, cleared by doctor."""
    cli = creature_cli
    killed = cli("snapshot", "create", "vm", "s1", env={"CREATURE_CRASH_AT": "snapshot.native"})
    assert killed.code == -9
    disk = cli.home / "machines" / "vm" / "disk.qcow2"
    assert "s1" in subprocess.run(["qemu-img", "snapshot", "-l", str(disk)], capture_output=True, text=True).stdout
    assert _snaps(cli, "vm") == []
    # the leftover folder names it; once that is gone, the native snapshot alone is still found
    for entry in (cli.home / "machines" / "vm" / "snapshots").iterdir():
        os.rename(entry, entry.with_name("moved-aside"))
        os.rename(entry.with_name("moved-aside"), entry)
    blocked = cli("snapshot", "create", "vm", "s1")
    assert blocked.code == 1 and "doctor --fix" in blocked.err
    cli.ok("doctor", "--fix")
    assert "s1" not in subprocess.run(["qemu-img", "snapshot", "-l", str(disk)], capture_output=True, text=True).stdout
    cli.ok("snapshot", "create", "vm", "s1")
    assert _snaps(cli, "vm") == ["s1"]
    cli.ok("snapshot", "rm", "vm", "s1")
    assert "s1" not in subprocess.run(["qemu-img", "snapshot", "-l", str(disk)], capture_output=True, text=True).stdout


def test_full_disk_leaves_no_snapshot(creature_cli, web, tmp_path):
    """A snapshot that runs out of space fails with the reason, lists nothing and leaves nothing behind."""
    cli = creature_cli
    snaps = cli.home / "machines" / "web" / "snapshots"
    snaps.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(snaps)], check=True)
    try:
        cli.ok("exec", "web", "--", "dd", "if=/dev/urandom", "of=/big", "bs=1k", "count=256")
        full = cli("snapshot", "create", "web", "s1")
        assert full.code == 1 and "No space left on device" in full.err, full.err
        assert _snaps(cli, "web") == [] and os.listdir(snaps) == []
        assert cli.ok("doctor", "--format", "json").json() == []
        assert cli.ok("show", "web", "--format", "json").json()["state"] == "running", "the freeze was undone"
        cli.ok("exec", "web", "--", "true")
    finally:
        subprocess.run(["umount", str(snaps)], check=True)


def test_export_import_round_trip_and_corruption(creature_cli, web, tmp_path):
    """Stdout and file archives, a second home, --name; a damaged archive exits 2 and imports nothing."""
    from creature.testing import CLI, cleanup_home, make_home

    cli = creature_cli
    running = cli("export", "web", "-o", str(tmp_path / "web.tar.zst"))
    assert running.code == 1 and "stop it before exporting" in running.err and not list(tmp_path.iterdir())
    cli.ok("stop", "web")
    cli.ok("export", "web", "-o", str(tmp_path / "web.tar.zst"))
    assert oct((tmp_path / "web.tar.zst").stat().st_mode & 0o777) == "0o600"
    piped = subprocess.run([sys.executable, "-m", "creature", "--home", str(cli.home), "export", "web", "-o", "-",
                            "--compression", "gzip"], capture_output=True, check=True)
    assert piped.stdout[:2] == b"\x1f\x8b"
    (tmp_path / "web.tar.gz").write_bytes(piped.stdout)
    other = CLI(make_home())
    try:
        other.ok("doctor")  # a home with its layout made
        data = bytearray((tmp_path / "web.tar.gz").read_bytes())
        for name, damaged in (("truncated", data[: len(data) // 2]), ("flipped", _flip(data))):
            (tmp_path / name).write_bytes(damaged)
            before = snapshot(other.home)
            bad = other("import", str(tmp_path / name))
            assert bad.code == 2 and "nothing was imported" in bad.err, bad.err
            assert snapshot(other.home) == before
        other.ok("import", str(tmp_path / "web.tar.zst"))
        with open(tmp_path / "web.tar.gz", "rb") as f:
            subprocess.run([sys.executable, "-m", "creature", "--home", str(other.home), "import", "-", "--name", "web2"],
                           stdin=f, check=True, capture_output=True)
        for name in ("web", "web2"):
            other.ok("start", name)
            assert _read(other, name) == "first"
            assert other.ok("exec", name, "--", "hostname").out.strip() == name
        clash = other("import", str(tmp_path / "web.tar.zst"))
        assert clash.code == 2 and "already exists" in clash.err
    finally:
        cleanup_home(other.home)


def _flip(data: bytearray) -> bytes:
    damaged = bytearray(data)
    damaged[len(damaged) * 2 // 3] ^= 0xFF
    return bytes(damaged)


# A child's ru_maxrss starts from the memory of the process that forked it (Linux carries the
# parent's high-water mark over exec), so a big pytest would read as a big creature: a small
# launcher forks the command and reports only that child's peak.
PEAK_RSS_LAUNCHER = """
import os, resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], stdin=sys.stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
if proc.returncode:
    sys.exit(proc.stderr.decode())
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_rss_mib(argv: list[str], stdin=None) -> float:
    """Run argv to its end and return its peak resident memory (its own) in MiB."""
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS_LAUNCHER, *argv], stdin=stdin or subprocess.DEVNULL,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout) / 1024


def test_export_and_import_stream_in_bounded_memory(creature_cli, busybox, tmp_path):
    """A 512 MiB file goes out and back in with creature's own memory far below its size (gzip: all in-process)."""
    from creature.testing import cleanup_home, make_home

    cli = creature_cli
    cli.ok("create", "big", "--driver", "lxc", "--template", busybox)
    blob = cli.home / "machines" / "big" / "delta" / "blob"
    with open(blob, "wb") as f:
        for _ in range(512):
            f.write(os.urandom(4096) * 256)  # 1 MiB that compresses, unlike zeros skipped as holes
    archive = tmp_path / "big.tar.gz"
    base = [sys.executable, "-m", "creature"]
    exported = _peak_rss_mib([*base, "--home", str(cli.home), "export", "big", "-o", str(archive), "--compression", "gzip"])
    other = make_home()
    try:
        imported = _peak_rss_mib([*base, "--home", str(other), "import", str(archive)])
        assert (other / "templates" / "big-import" / "rootfs" / "blob").stat().st_size == 512 * 1024 * 1024
    finally:
        cleanup_home(other)
    print(f"peak memory for a 512 MiB file: export {exported:.0f} MiB, import {imported:.0f} MiB")
    assert exported < 150 and imported < 150, f"peak memory: export {exported:.0f} MiB, import {imported:.0f} MiB"


def test_killed_export_and_import_leave_nothing_that_looks_whole(creature_cli, web, tmp_path):
    cli = creature_cli
    cli.ok("stop", "web")
    target = tmp_path / "web.tar.zst"
    killed = cli("export", "web", "-o", str(target), env={"CREATURE_CRASH_AT": "export.written"})
    assert killed.code == -9
    assert not target.exists() and [p.name.startswith(".web.tar.zst.part-") for p in tmp_path.iterdir()] == [True]
    problems = cli("doctor", "--format", "json").json()
    assert [p["kind"] for p in problems] == ["staging"] and "export.web." in problems[0]["path"]
    cli.ok("doctor", "--fix")
    cli.ok("export", "web", "-o", str(target))
    killed = cli("import", str(target), "--name", "copy", env={"CREATURE_CRASH_AT": "import.unpacked"})
    assert killed.code == -9
    assert [r["name"] for r in cli.ok("list", "--format", "json").json()] == ["web"]
    assert [t["name"] for t in cli.ok("template", "list", "--format", "json").json()] == ["bb"]
    problems = cli("doctor", "--format", "json").json()
    assert [p["kind"] for p in problems] == ["staging"] and "import.copy." in problems[0]["path"]
    cli.ok("doctor", "--fix")
    cli.ok("import", str(target), "--name", "copy")
    cli.ok("start", "copy")
    assert _read(cli, "copy") == "first"


def test_progress_only_on_a_terminal(creature_cli, web, tmp_path):
    """On a terminal, export shows a progress bar on stderr; in a pipe, only its one closing line."""
    import pty

    cli = creature_cli
    cli.ok("stop", "web")
    piped = cli.ok("export", "web", "-o", str(tmp_path / "a.tar.zst"))
    assert piped.err == f"exported web to {tmp_path / 'a.tar.zst'}\n"
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "creature", "--home", str(cli.home), "export", "web", "-o",
                               str(tmp_path / "b.tar.zst")], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=slave, timeout=120)
        os.close(slave)
        slave = None
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert proc.returncode == 0
    assert b"exporting web" in shown and b"MB" in shown, shown[-500:]
