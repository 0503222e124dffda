"""`host up --restore` after a reboot: what ran before comes back, whether host down ran or the power was cut.

That restored machines keep their addresses on creature networks is checked in test_networks_updown.py."""

from creature.builtin.autostart.autostart import RUNNING_AT_DOWN


def _machines(api, busybox):
    # web starts at boot; batch was started by hand; spare exists but was not running
    for name, auto in (("web", True), ("batch", False), ("spare", False)):
        api.create({"name": name, "driver": "lxc", "template": busybox, "autostart": auto})


def _running(api) -> list[str]:
    return sorted(i.name for i in api.list_machines(state="running"))


def test_restore_after_a_clean_host_down(creature_api, creature_cli, busybox, tools):
    api, cli = creature_api, creature_cli
    tools.need_driver(api, "lxc")
    _machines(api, busybox)
    cli.ok("host", "up")
    cli.ok("start", "batch")
    assert _running(api) == ["batch", "web"]
    cli.ok("host", "down", "--timeout", "10")
    assert _running(api) == []
    tools.simulate_reboot(api, ["web", "batch", "spare"])

    result = cli.ok("host", "up", "--restore")
    assert result.out.startswith("host up: 2 started"), result.out
    assert _running(api) == ["batch", "web"]
    assert api.inventory.host_value(RUNNING_AT_DOWN) is None, "the record is used up by the restore"
    again = cli.ok("host", "up", "--restore")
    assert again.out.startswith("host up: 2 already running"), again.out


def test_restore_after_a_power_cut(creature_api, creature_cli, busybox, tools):
    """No host down ran: every hypervisor process was killed; the event log says what was running."""
    api, cli = creature_api, creature_cli
    tools.need_driver(api, "lxc")
    _machines(api, busybox)
    cli.ok("host", "up")
    cli.ok("start", "batch")
    assert _running(api) == ["batch", "web"]
    tools.simulate_reboot(api, ["web", "batch", "spare"])
    assert _running(api) == []
    assert not tools.processes_mentioning(str(api.home.root))

    plain = cli.ok("host", "up")
    assert plain.out.startswith("host up: 1 started"), "without --restore only autostart machines start"
    assert _running(api) == ["web"]
    restored = cli.ok("host", "up", "--restore")
    assert restored.out.startswith("host up: 1 started, 1 already running"), restored.out
    assert _running(api) == ["batch", "web"]
    assert api.state("spare").value == "stopped"
