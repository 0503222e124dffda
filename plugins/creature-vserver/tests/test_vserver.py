"""The Linux-VServer driver: probe reasons here, the /etc/vservers/NAME layout, plans, and vserver-stat parsing."""

from __future__ import annotations

from pathlib import Path

import pytest
from creature.model import Machine, MachineSpec
from creature.testing import DriverConformance

HAS_VSERVER = Path("/proc/virtual").exists()


class TestVserverConformance(DriverConformance):
    driver = "vserver"


def _machine(api, **extra) -> Machine:
    spec = MachineSpec.parse({"name": "web", "driver": "vserver", "template": "bb", "cpus": 2, "memory": "128M", **extra})
    return Machine(spec=spec, dir=api.home.machine_dir("web"))


def test_probe_names_each_missing_piece(creature_api):
    if HAS_VSERVER:
        pytest.skip("this is a Linux-VServer kernel: the not-usable reasons cannot be seen")
    probe = creature_api.probe("vserver")
    reasons = {c.name: c.reason for c in probe.checks if not c.ok}
    assert not probe.usable
    assert "/proc/virtual is missing" in reasons["kernel"] and "not a Linux-VServer kernel" in reasons["kernel"]
    if "vserver" in reasons:
        assert "vserver tool is not found" in reasons["vserver"]


def test_create_writes_the_etc_vservers_layout(creature_api, tmp_path):
    from creature_vserver.layout import read_layout

    api = creature_api
    template = api.templates.build("bb", "busybox")
    machine = _machine(api, nics=[{"network": "br-lan", "ip": "10.77.0.5"}, {}])
    staging = tmp_path / "staging"
    staging.mkdir()
    data = api.driver("vserver").create(machine, template, staging)
    layout = read_layout(staging / "vserver")
    # util-vserver's configuration reference ("The Great Flower Page", nongnu.org/util-vserver/doc/conf/configuration.html):
    # context, name, uts/nodename, vdir, apps/init/style, rlimits/rss (pages), cpuset/{name,cpus,mems},
    # interfaces/<n>/{ip,dev,prefix}
    assert layout == {
        "context": str(data["xid"]),
        "name": "web",
        "uts/nodename": "web",
        "vdir": str(machine.dir / "rootfs"),
        "apps/init/style": "plain",
        "rlimits/rss": str(128 * 256),
        "cpuset/name": "creature-web",
        "cpuset/cpus": "0-1",
        "cpuset/mems": "0",
        "interfaces/0/ip": "10.77.0.5",
        "interfaces/0/dev": "br-lan",
        "interfaces/0/prefix": "24",
    }
    assert 2 <= data["xid"] <= 49151
    assert (staging / "rootfs/bin/busybox").is_file() and (staging / "rootfs/etc/hostname").read_text() == "web\n"
    assert oct((staging / "vserver/context").stat().st_mode & 0o777) == "0o600"


def test_plans_follow_the_util_vserver_commands(creature_api):
    driver = creature_api.driver("vserver")
    machine = _machine(creature_api)
    machine.data = {"xid": 4242}
    vserver = driver.tool("vserver")
    # vserver(8) of util-vserver: "vserver <name> start|stop"; vkill: "vkill [--xid <xid>] [-s <signal>]"
    assert driver.plan(machine, "start") == [[vserver, "web", "start"]]
    assert driver.plan(machine, "stop")[0] == [vserver, "web", "stop"]
    assert driver.plan(machine, "kill") == [[driver.tool("vkill"), "--xid", "4242", "-s", "KILL"]]
    assert driver.plan(machine, "list") == [[driver.tool("vserver-stat")]]
    assert driver.plan(machine, "create") == [["ln", "-sfn", str(machine.dir / "vserver"), "/etc/vservers/web"]]


def test_vserver_stat_parser_on_real_outputs():
    from creature_vserver.layout import parse_vserver_stat, state_of

    # from the Gentoo wiki page "Vserver" (wiki.gentoo.org/wiki/Vserver), after `vserver myguest start`
    gentoo = """CTX   PROC    VSZ    RSS  userTIME   sysTIME    UPTIME NAME
0       90   1.4G 153.4K  14m00s11   6m45s17   2h59m59 root server
1252     2     3M   286    0m00s45   0m00s42   0m02s91 myguest
"""
    assert parse_vserver_stat(gentoo) == {"myguest": 1252}
    # several guests in the same columns (constructed: the column layout is that of showContexts() in
    # util-vserver's src/vserver-stat.c, "CTX   PROC    VSZ    RSS  userTIME   sysTIME    UPTIME NAME")
    several = """CTX   PROC    VSZ    RSS  userTIME   sysTIME    UPTIME NAME
0       78 318.4M  46.8M  28m50s40   6h05m32   4d05h14 root server
131     47   1.9G   1.1G   3d04h37   1d01h38   4d05h11 mem-decode-01
151     18 316.7M 131.8M   1d10h45   1d00h51   4d05h11 mem-autopar-01
"""
    running = parse_vserver_stat(several)
    assert running == {"mem-decode-01": 131, "mem-autopar-01": 151}
    assert state_of("mem-decode-01", running).value == "running" and state_of("web", running).value == "stopped"
