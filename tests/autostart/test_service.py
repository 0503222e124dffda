"""`host install-service`: a systemd unit that systemd-analyze accepts, a sysv script that really starts and stops."""

import re
import shlex
import subprocess

import pytest
from creature.procs import which
from creature.testing import snapshot


def _unit(cli, tmp_path, *extra) -> tuple[str, str]:
    path = tmp_path / "creature.builtin.autostart.service"
    out = cli.ok("host", "install-service", "--init", "systemd", "--output", str(path), *extra).out
    assert out.startswith(f"wrote {path}; enable it with: systemctl")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    return str(path), path.read_text()


def _key(text: str, key: str) -> str:
    values = re.findall(rf"^{key}=(.*)$", text, re.MULTILINE)
    assert len(values) == 1, f"{key}= appears {len(values)} times"
    return values[0]


def test_systemd_unit_orders_against_networking_and_shutdown(creature_cli, tmp_path):
    _path, text = _unit(creature_cli, tmp_path, "--timeout", "90")
    after = _key(text, "After").split()
    assert "network-online.target" in after and "remote-fs.target" in after
    assert "network-online.target" in _key(text, "Wants").split()
    assert "shutdown.target" in _key(text, "Before").split()
    assert "shutdown.target" in _key(text, "Conflicts").split()
    assert _key(text, "Type") == "oneshot" and _key(text, "RemainAfterExit") == "yes"
    assert _key(text, "WantedBy") == "multi-user.target"
    start, stop = shlex.split(_key(text, "ExecStart")), shlex.split(_key(text, "ExecStop"))
    home = str(creature_cli.home.absolute())
    assert start[-5:] == ["--home", home, "host", "up", "--restore"]
    assert stop[-6:] == ["--home", home, "host", "down", "--timeout", "90"]
    assert int(_key(text, "TimeoutStopSec")) > 90, "systemd must not kill host down before its own timeout"


def test_systemd_unit_passes_systemd_analyze_verify(creature_cli, tmp_path):
    analyze = which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd; the Makefile's APT_PACKAGES installs it)")
    path, text = _unit(creature_cli, tmp_path)
    proc = subprocess.run([analyze, "verify", path], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    # the check is alive: the same unit with a command that does not exist is refused
    broken = tmp_path / "broken.service"
    broken.write_text(text.replace(shlex.split(_key(text, "ExecStart"))[0], "/nonexistent/creature"))
    proc = subprocess.run([analyze, "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "not executable" in proc.stderr


def test_systemd_unit_commands_run(creature_api, creature_cli, busybox, tools, tmp_path):
    """What ExecStart and ExecStop say, run as systemd would run them (argument lists, no shell)."""
    api = creature_api
    tools.need_driver(api, "lxc")
    api.create({"name": "svc", "driver": "lxc", "template": busybox, "autostart": True})
    _path, text = _unit(creature_cli, tmp_path, "--timeout", "10")
    subprocess.run(shlex.split(_key(text, "ExecStart")), check=True, capture_output=True, timeout=120)
    assert api.state("svc").value == "running"
    subprocess.run(shlex.split(_key(text, "ExecStop")), check=True, capture_output=True, timeout=120)
    assert api.state("svc").value == "stopped"


def test_sysv_script_header_and_syntax(creature_cli, tmp_path):
    out = creature_cli.ok("host", "install-service", "--init", "sysv", "--root", str(tmp_path)).out
    script = tmp_path / "etc/init.d/creature"
    assert out.startswith(f"wrote {script}; enable it with: update-rc.d creature defaults")
    assert oct(script.stat().st_mode & 0o777) == "0o700"
    text = script.read_text()
    assert text.startswith("#!/bin/sh\n")
    header = text[text.index("### BEGIN INIT INFO"):text.index("### END INIT INFO")]
    fields = dict(re.findall(r"^# ([A-Za-z-]+):\s+(.*)$", header, re.MULTILINE))
    assert fields["Provides"] == "creature"
    assert {"$network", "$remote_fs"} <= set(fields["Required-Start"].split())
    assert {"$network", "$remote_fs"} <= set(fields["Required-Stop"].split())
    assert fields["Default-Start"].split() == ["2", "3", "4", "5"]
    assert fields["Default-Stop"].split() == ["0", "1", "6"]
    subprocess.run([which("sh"), "-n", str(script)], check=True)


def test_sysv_script_start_status_restart_stop(creature_api, creature_cli, busybox, tools, tmp_path):
    api, cli = creature_api, creature_cli
    tools.need_driver(api, "lxc")
    api.create({"name": "a", "driver": "lxc", "template": busybox, "autostart": True, "autostart_order": 1})
    api.create({"name": "b", "driver": "lxc", "template": busybox, "autostart": True, "autostart_order": 2})
    api.create({"name": "m", "driver": "lxc", "template": busybox})
    cli.ok("host", "install-service", "--init", "sysv", "--root", str(tmp_path), "--timeout", "10")
    script = str(tmp_path / "etc/init.d/creature")

    def service(action):
        return subprocess.run([script, action], capture_output=True, text=True, timeout=120)

    def states():
        return {i.name: i.state.value for i in api.list_machines()}

    status = service("status")
    assert status.returncode == 3, "LSB: 3 means not running"
    assert re.search(r"^a\s+lxc\s+1\s+0\.0\s+stopped$", status.stdout, re.MULTILINE), status.stdout
    started = service("start")
    assert started.returncode == 0 and started.stdout.startswith("host up: 2 started"), started
    assert states() == {"a": "running", "b": "running", "m": "stopped"}
    status = service("status")
    assert status.returncode == 0 and re.search(r"^b\s+lxc\s+2\s+0\.0\s+running$", status.stdout, re.MULTILINE)
    count = len(tools.started_at(api)["a"])
    restarted = service("restart")
    assert restarted.returncode == 0, restarted
    assert states() == {"a": "running", "b": "running", "m": "stopped"}
    assert len(tools.started_at(api)["a"]) == count + 1, "restart stops and starts again"
    stopped = service("stop")
    assert stopped.returncode == 0 and stopped.stdout.startswith("host down: 2 stopped"), stopped
    assert states() == {"a": "stopped", "b": "stopped", "m": "stopped"}
    assert service("status").returncode == 3
    usage = service("bogus")
    assert usage.returncode == 3 and "Usage:" in usage.stderr


def test_install_service_keeps_files_it_did_not_write(creature_cli, tmp_path):
    target = tmp_path / "etc/init.d/creature"
    target.parent.mkdir(parents=True)
    target.write_text("#!/bin/sh\n# someone else's creature script\n")
    refused = creature_cli("host", "install-service", "--init", "sysv", "--root", str(tmp_path))
    assert refused.code == 2 and "was not written by creature" in refused.err
    assert target.read_text() == "#!/bin/sh\n# someone else's creature script\n"
    creature_cli.ok("host", "install-service", "--init", "sysv", "--root", str(tmp_path), "--force")
    assert "### BEGIN INIT INFO" in target.read_text()
    # creature's own file is simply rewritten
    creature_cli.ok("host", "install-service", "--init", "sysv", "--root", str(tmp_path), "--timeout", "5")
    assert "host down --timeout 5\n" in target.read_text()


@pytest.mark.parametrize("args, message", [
    (("--init", "upstart"), "'upstart' is not one of 'systemd', 'sysv'"),
    (("--output", "/nonexistent-dir/creature.builtin.autostart.service"), "folder /nonexistent-dir does not exist"),
    (("--timeout", "-5"), "--timeout"),
])
def test_install_service_bad_input(args, message, creature_cli, tmp_path):
    before = snapshot(creature_cli.home), sorted(tmp_path.rglob("*"))
    result = creature_cli("host", "install-service", "--root", str(tmp_path), *args)
    assert result.code == 2 and message in result.err, result
    assert (snapshot(creature_cli.home), sorted(tmp_path.rglob("*"))) == before
