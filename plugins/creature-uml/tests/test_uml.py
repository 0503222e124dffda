"""The UML driver against the real linux.uml: conformance (busybox and Debian), COW isolation, liveness, console, plan."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from pathlib import Path

import pytest
from creature.sdk import run
from creature.testing import ConsoleSession, DriverConformance, cleanup_home, make_home, require_usable, wait_until


class TestUmlConformance(DriverConformance):
    driver = "uml"
    boot_timeout = 30


class TestUmlDebianConformance(DriverConformance):
    """The same lifecycle with a Debian guest (sysvinit, whose ctrl-alt-del means reboot)."""

    driver = "uml"
    template_method = "debootstrap"
    template_options = {"suite": "bookworm"}
    boot_timeout = 120
    stop_timeout = 60

    @pytest.fixture(scope="class")
    @classmethod
    def creature_home(cls):
        """One home for the class, so the Debian template and its disk image are made once, not per test."""
        home = make_home()
        yield home
        cleanup_home(home)

    @pytest.fixture
    def template(self, creature_api, usable) -> str:
        if "debootstrap" not in creature_api.bootstrappers():
            pytest.skip("debootstrap method not registered yet")
        name = "conf-debian"
        if creature_api.inventory.template(name) is None:
            creature_api.templates.build(name, self.template_method, dict(self.template_options))
        return name

    def test_debian_boots_to_its_init(self, creature_api, template):
        api = creature_api
        api.create({"name": "deb", "driver": "uml", "template": template, "memory": "192M"})
        api.start("deb")
        machine = api.machine("deb")
        log = machine.dir / "console.log"
        # creature's initramfs (initrd=) mounts the disk and hands over to the template's init
        handover = b"creature-initramfs: handing over to /sbin/init"
        wait_until(lambda: handover in log.read_bytes(), self.boot_timeout, 0.2, "the initramfs to run the guest's init")
        assert b"cannot mount" not in log.read_bytes()
        # the guest's /lib/modules is the booted kernel's own module tree (read-only through confined hostfs)
        from creature_uml.initramfs import MODULES_LINE

        release = api.driver("uml")._kernel()[1].release
        assert MODULES_LINE.format(release=release, device="/dev/ubdb").encode() in log.read_bytes(), \
            log.read_text(errors="replace")[-2000:]
        # init got as far as a getty on tty1: the console answers with a Debian login prompt
        session = ConsoleSession.open(api.driver("uml").console_device(machine, timeout=self.boot_timeout))
        try:
            session.prompt_login(self.boot_timeout)
        finally:
            session.close()
        assert b"INIT: version" in log.read_bytes() or b"systemd" in log.read_bytes(), log.read_text(errors="replace")[-2000:]
        assert not api.stop("deb", timeout=self.stop_timeout).forced
        assert _uml_processes(machine.dir) == []
        assert b"reboot: Restarting system" in log.read_bytes(), "sysvinit shut down (and asked UML to restart)"
        api.destroy("deb")


def _uml_processes(machine_dir: Path) -> list[int]:
    """Live (non-zombie) processes of a UML whose uml_dir is inside machine_dir, with its userspace stubs.

    UML before 6.13 forks itself for each guest address space (same command line); later ones exec a stub
    (a memfd: no command line, comm uml-userspace) in UML's process group.
    """
    needle = f"uml_dir={machine_dir}/uml".encode()
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            procs[int(entry)] = (cmdline, int(fields[2]), stat[stat.index("(") + 1:stat.rindex(")")])
    groups = {pgid for cmdline, pgid, _ in procs.values() if needle in cmdline.split(b"\0")}
    return sorted(pid for pid, (cmdline, pgid, comm) in procs.items()
                  if needle in cmdline.split(b"\0") or (pgid in groups and comm == "uml-userspace"))


def _data_contains(path: Path, needle: bytes) -> bool:
    """Whether the data extents of a (sparse) file contain needle; holes are skipped, not read."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size, offset = os.fstat(fd).st_size, 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:
                return False
            end = os.lseek(fd, start, os.SEEK_HOLE)
            os.lseek(fd, max(0, start - len(needle)), os.SEEK_SET)
            if needle in os.read(fd, end - max(0, start - len(needle))):
                return True
            offset = end
        return False
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture
def uml(creature_api):
    """An API with a busybox template, skipping (naming the reason) where UML cannot run."""
    require_usable(creature_api, "uml")
    creature_api.templates.build("bb", "busybox")
    return creature_api


def test_two_machines_write_only_their_own_cow(uml):
    api = uml
    for name in ("ua", "ub"):
        api.create({"name": name, "driver": "uml", "template": "bb", "memory": "96M"})
    image = Path(api.machine("ua").data["image"])
    before = _sha256(image)
    for name in ("ua", "ub"):
        api.start(name)
    assert all(api.state(n).value == "running" for n in ("ua", "ub"))
    marks = {}
    for name in ("ua", "ub"):
        machine = api.machine(name)
        session = ConsoleSession.open(api.driver("uml").console_device(machine))
        try:
            session.login()
            assert session.run("hostname") == (0, f"{name}\n")
            marks[name] = f"creature-cow-{name}-{os.urandom(6).hex()}"
            assert session.run(f"echo {marks[name]} > /root/mark && sync")[0] == 0
        finally:
            session.close()
    # both ran at once, as separate process trees
    assert set(_uml_processes(api.machine("ua").dir)).isdisjoint(_uml_processes(api.machine("ub").dir))
    for name in ("ua", "ub"):
        assert not api.stop(name, timeout=30).forced
    cow_a, cow_b = (api.machine(n).dir / "disk.cow" for n in ("ua", "ub"))
    assert _data_contains(cow_a, marks["ua"].encode()) and not _data_contains(cow_a, marks["ub"].encode())
    assert _data_contains(cow_b, marks["ub"].encode()) and not _data_contains(cow_b, marks["ua"].encode())
    assert _sha256(image) == before
    assert oct(cow_a.stat().st_mode & 0o777) == "0o600"


def test_killed_from_outside_is_seen_within_a_second(uml):
    api = uml
    api.create({"name": "uk", "driver": "uml", "template": "bb", "memory": "96M"})
    api.start("uk")
    machine = api.machine("uk")
    pgid = json.loads((machine.dir / "run.json").read_text())["pgid"]
    wait_until(lambda: len(_uml_processes(machine.dir)) >= 2, 10, 0.05, "UML's helper processes beside its main one")
    os.killpg(pgid, signal.SIGKILL)
    started = time.monotonic()
    wait_until(lambda: api.state("uk").value == "stopped", 1.0, 0.05, "state to become stopped")
    assert time.monotonic() - started < 1.0
    wait_until(lambda: _uml_processes(machine.dir) == [], 5, 0.05, "the killed UML's processes to go")
    # a stale umid folder from the killed run does not keep the machine from starting again
    api.start("uk")
    assert api.state("uk").value == "running"


@pytest.mark.parametrize("how", ["stop", "kill", "destroy"])
def test_no_stray_processes(uml, how):
    api = uml
    api.create({"name": "us", "driver": "uml", "template": "bb", "memory": "96M"})
    api.start("us")
    machine = api.machine("us")
    assert _uml_processes(machine.dir)
    if how == "stop":
        assert not api.stop("us", timeout=30).forced
    elif how == "kill":
        api.kill("us")
    else:
        api.destroy("us", force=True)
    assert _uml_processes(machine.dir) == []


def test_stop_forces_a_guest_that_ignores_shutdown(uml):
    api = uml
    api.create({"name": "uf", "driver": "uml", "template": "bb", "memory": "96M"})
    api.start("uf")
    machine = api.machine("uf")
    # timeout 0 skips the request: the guest is ended at once and the result says so
    result = api.stop("uf", timeout=0)
    assert result.forced and api.state("uf").value == "stopped"
    assert _uml_processes(machine.dir) == []


def test_plan_is_what_runs(uml):
    api = uml
    api.create({"name": "up", "driver": "uml", "template": "bb", "memory": "96M"})
    machine = api.machine("up")
    driver = api.driver("uml")
    (start,) = driver.plan(machine, "start")
    assert driver.plan(machine, "stop") == [] and driver.plan(machine, "kill") == []
    env = next(i for i, word in enumerate(start) if word.endswith("/env"))  # after the agent FIFOs' opener
    assert start[env + 1].startswith("TMPDIR=") and start[env + 2].endswith("/linux.uml")
    assert f"ubd0={machine.dir}/disk.cow,{machine.data['image']}" in start
    assert "umid=up" in start and f"uml_dir={machine.dir}/uml" in start and "mem=96M" in start
    api.start("up")
    pgid = json.loads((machine.dir / "run.json").read_text())["pgid"]
    # env execs linux.uml with the rest of the planned argv: the running command line is exactly that
    assert Path(f"/proc/{pgid}/cmdline").read_bytes().split(b"\0")[:-1] == [a.encode() for a in start[env + 2:]]
    stop = driver.plan(machine, "stop")
    assert stop[0][-2:] == [f"{machine.dir}/uml/up/mconsole", "cad"]
    assert stop[1][-2:] == ["--", f"-{pgid}"] and driver.plan(machine, "kill") == [stop[1]]
    with pytest.raises(Exception, match="unknown action"):
        driver.plan(machine, "explode")


def test_files_are_private(uml):
    api = uml
    api.create({"name": "uv", "driver": "uml", "template": "bb", "memory": "96M"})
    api.start("uv")
    machine = api.machine("uv")
    for rel in ("disk.cow", "console.log", "run.json"):
        assert oct((machine.dir / rel).stat().st_mode & 0o777) == "0o600", rel
    for rel in ("uml", "uml/uv"):
        assert oct((machine.dir / rel).stat().st_mode & 0o777) == "0o700", rel
    assert (machine.dir / "uml/uv/mconsole").stat().st_mode & 0o077 == 0, "the control socket is not world-readable"


def test_console_command_reaches_the_guest(uml, creature_cli):
    api = uml
    api.create({"name": "uc", "driver": "uml", "template": "bb", "memory": "96M"})
    api.start("uc")

    def prompt():
        result = creature_cli("console", "uc", input="\r", timeout=60)
        return result.code == 0 and "login:" in result.out and result
    result = wait_until(prompt, 30, 0.5, "a login prompt through `creature console`")
    assert "Ctrl-]" in result.err


def test_probe_rejects_a_noexec_tmpdir(creature_home):
    from creature_uml.tmpdir import allows_exec_mapping

    for options, refused in (("noexec", True), ("exec", False)):
        folder = creature_home / options
        folder.mkdir()
        run(["mount", "-t", "tmpfs", "-o", f"{options},size=1m", "tmpfs", str(folder)])
        try:
            why = allows_exec_mapping(str(folder))
        finally:
            run(["umount", str(folder)])
        assert ("refuses executable mappings" in why) if refused else why == ""


def test_long_names_that_overflow_the_socket_path_are_refused(uml):
    from creature.sdk import CreatureError

    long = "n" * 63
    with pytest.raises(CreatureError, match="unix limit"):
        uml.create({"name": long, "driver": "uml", "template": "bb"})
    assert uml.inventory.machine(long) is None


def test_dry_runs_change_nothing_and_show_the_commands(uml, creature_cli):
    from creature.testing import snapshot

    home = creature_cli.home
    before = snapshot(home)
    out = creature_cli.ok("create", "ud", "--driver", "uml", "--template", "bb", "--memory", "96M", "--dry-run").out
    assert snapshot(home) == before
    assert not (home / "templates/bb/disk.ext4").exists(), "a dry run does not make the template's disk image"
    assert f"ubd0={home}/machines/ud/disk.cow,{home}/templates/bb/disk.ext4" in out and "mem=96M" in out
    creature_cli.ok("create", "ud", "--driver", "uml", "--template", "bb", "--memory", "96M")
    lines = creature_cli.ok("start", "ud", "--dry-run").out.splitlines()
    assert lines[0] == "# dry run: start ud" and "/linux.uml umid=ud " in lines[1]
    assert creature_cli.ok("show", "ud", "--format", "json").json()["state"] == "stopped"
    creature_cli.ok("start", "ud")
    assert f"{home}/machines/ud/uml/ud/mconsole cad" in creature_cli.ok("stop", "ud", "--dry-run").out
    assert "kill -s KILL -- -" in creature_cli.ok("kill", "ud", "--dry-run").out
    assert creature_cli.ok("show", "ud", "--format", "json").json()["state"] == "running"


def test_nics_become_vector_options_and_dhcp_words(uml):
    """Each NIC is a vector NIC on its stable tap, named eth{i} in the guest; DHCP words; nsenter is not UML's cmdline."""
    from creature.sdk import Machine, MachineSpec, tap_name
    from creature_uml import command

    nics = [{"network": "lan", "mac": "fe:fd:00:00:00:01"}, {"network": "lan", "mac": "fe:fd:00:00:00:02"}]
    machine = Machine(spec=MachineSpec.parse({"name": "n1", "driver": "uml", "template": "bb", "nics": nics}),
                      dir=uml.home.machines / "n1", data={"image": "/base.ext4"})
    assert command.nic_options(machine) == [f"vec0:transport=tap,ifname={tap_name('n1', 0)},mac=fe:fd:00:00:00:01",
                                            "creature.ifname=vec0:eth0",
                                            f"vec1:transport=tap,ifname={tap_name('n1', 1)},mac=fe:fd:00:00:00:02",
                                            "creature.ifname=vec1:eth1"]
    prefix = ["/usr/bin/nsenter", "--net=/proc/1/ns/net", "--"]
    argv = command.boot_argv(machine, Path("/opt/uml/linux.uml"), "/tmp", prefix, ["creature.dhcp=eth0,eth1"])
    assert argv[:3] == prefix and "creature.dhcp=eth0,eth1" in argv
    assert f"hostfs={machine.dir}/no-hostfs" in argv, "without the kernel's modules, hostfs reaches nothing on the host"
    assert command.exec_cmdline(argv).split()[0].endswith("/linux.uml")
    assert command.exec_cmdline(argv) == command.exec_cmdline(argv[3:])


def test_initramfs_is_busybox_and_the_shared_init_cached_privately(creature_home, monkeypatch):
    """The UML initramfs: the shared /init (root /dev/ubda, no modules), the host busybox, /dev/console; one file per key."""
    from creature.sdk import HANDOVER, host_busybox
    from creature_uml import initramfs

    monkeypatch.setenv("CREATURE_CACHE", str(creature_home / "cache"))
    path = initramfs.cached_initramfs()
    assert path.parent == creature_home / "cache/uml" and path.stat().st_mode & 0o777 == 0o600
    assert initramfs.cached_initramfs() == path and len(list(path.parent.iterdir())) == 1
    data = path.read_bytes()
    assert initramfs.INIT.encode() in data and host_busybox().read_bytes() in data
    assert b"dev/console\0" in data and data.startswith(b"070701")
    assert "root=/dev/ubda " in initramfs.INIT and "insmod" not in initramfs.INIT and HANDOVER in initramfs.INIT
    for word in ("creature.dhcp=", "creature.ip=", "creature.hostname=", "/newroot/etc/network/interfaces.d/creature",
                 "/newroot/etc/hostname"):
        assert word in initramfs.INIT
    monkeypatch.setenv("CREATURE_CACHE", str(creature_home / "other"))
    assert not initramfs.cached_initramfs(build=False).exists(), "build=False (plans) names the file without making it"


def test_every_guest_boots_through_the_initramfs_with_its_agent_line(uml):
    """Busybox guests too: the initramfs writes their keys and password and starts the exec agent on ttyS1, a serial
    line on the machine's two FIFOs, which the start command opens itself (so a plan run by hand boots the same)."""
    api = uml
    api.create({"name": "ub", "driver": "uml", "template": "bb", "memory": "96M"})
    machine = api.machine("ub")
    (start,) = api.driver("uml").plan(machine, "start")
    # the home's SSH key is appended to the shared initramfs: the machine boots its own copy
    assert f"initrd={machine.dir}/initramfs-" in " ".join(start)
    assert "ssl1=fd:3,fd:4" in start and "creature.agent=/dev/ttyS1" in start
    assert start[1:6] == ["-c", 'exec 3<>"$1" 4<>"$2" && shift 2 && exec "$@"', "creature-uml",
                          f"{machine.dir}/agent.in", f"{machine.dir}/agent.out"]
