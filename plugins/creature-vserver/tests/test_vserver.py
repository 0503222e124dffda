"""The Linux-VServer driver: probe reasons here, the /etc/vservers/NAME layout, plans, and vserver-stat parsing."""

from __future__ import annotations

from pathlib import Path

from creature.testing import DriverConformance
from creature.testing_plans import assert_plans, assert_private, plan_machine, staged_create, unusable_reasons


class TestVserverConformance(DriverConformance):
    driver = "vserver"


def test_probe_names_each_missing_piece(creature_api):
    reasons = unusable_reasons(creature_api, "vserver", "kernel", Path("/proc/virtual"))
    assert "not a Linux-VServer kernel" in reasons["kernel"]
    if "vserver" in reasons:
        assert "vserver tool is not found" in reasons["vserver"]


def test_create_writes_the_etc_vservers_layout(creature_api, tmp_path):
    from creature_vserver.layout import read_layout

    machine = plan_machine(creature_api, "vserver", memory="128M", nics=[{"network": "br-lan", "ip": "10.77.0.5"}, {}])
    data, staging = staged_create(creature_api, machine, tmp_path)
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
    assert_private(staging / "vserver/context")


def test_plans_follow_the_util_vserver_commands(creature_api):
    driver = creature_api.driver("vserver")
    machine = plan_machine(creature_api, "vserver", memory="128M")
    machine.data = {"xid": 4242}
    vserver, vkill = driver.tool("vserver"), [driver.tool("vkill"), "--xid", "4242", "-s", "KILL"]
    # vserver(8) of util-vserver: "vserver <name> start|stop"; vkill: "vkill [--xid <xid>] [-s <signal>]"
    assert_plans(driver, machine, {
        "start": [[vserver, "web", "start"]],
        "stop": [[vserver, "web", "stop"], vkill],
        "kill": [vkill],
        "list": [[driver.tool("vserver-stat")]],
        "create": [["ln", "-sfn", str(machine.dir / "vserver"), "/etc/vservers/web"]],
        "destroy": [["rm", "-f", "/etc/vservers/web"]],
    })


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


def test_create_puts_keys_and_password_into_the_rootfs(creature_api, tmp_path):
    from creature.sdk import Access
    from creature.testing_guest import TEST_KEY

    machine = plan_machine(creature_api, "vserver")
    machine.access = Access(ssh_keys=(TEST_KEY,), root_password_hash="$6$salt$hash")
    _, staging = staged_create(creature_api, machine, tmp_path)
    assert (staging / "rootfs/root/.ssh/authorized_keys").read_text() == TEST_KEY + "\n"
    assert (staging / "rootfs/etc/passwd").read_text().startswith("root:$6$salt$hash:")
