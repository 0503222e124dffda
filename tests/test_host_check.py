"""`creature host check`: every driver with usable and reasons, and the kernel features."""


def test_host_check_json(creature_cli):
    report = creature_cli.ok("host", "check", "--format", "json").json()
    assert report["kernel_release"]
    kernel = {c["name"]: c for c in report["sections"]["kernel"]}
    for feature in ("namespaces", "cgroups", "veth", "bridge", "tun"):
        assert feature in kernel, f"kernel feature {feature} not reported"
        assert kernel[feature]["reason"]
    assert report["drivers"], "no driver registered"
    for name, driver in report["drivers"].items():
        assert isinstance(driver["usable"], bool)
        assert driver["checks"], f"driver {name} reported no checks"
        for check in driver["checks"]:
            assert set(check) == {"name", "ok", "reason"} and check["reason"]
        assert driver["usable"] == all(c["ok"] for c in driver["checks"])


def test_lxc_is_usable_here(creature_cli, lxc_usable):
    report = creature_cli.ok("host", "check", "--format", "json").json()
    assert report["drivers"]["lxc"]["usable"] is True
    assert report["drivers"]["lxc"]["distribution"] == "creature-lxc"


def test_host_check_table_and_csv(creature_cli):
    table = creature_cli.ok("host", "check").out
    assert "namespaces" in table and "lxc" in table
    csv_out = creature_cli.ok("host", "check", "--format", "csv").out.splitlines()
    assert csv_out[0] == "section,name,ok,reason"
