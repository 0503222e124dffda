"""`creature stats` on LXC machines: formats, names, --watch and --output, and refusals (exit 2, nothing changed)."""

from __future__ import annotations

import json

import pytest
from creature.testing import snapshot


@pytest.fixture
def two(lxc_usable, creature_cli):
    """Machines up (running, with --disk) and down (stopped)."""
    cli = creature_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    cli.ok("create", "up", "--driver", "lxc", "--template", "bb", "--disk", "64M", "--memory", "96M")
    cli.ok("create", "down", "--driver", "lxc", "--template", "bb")
    cli.ok("start", "up")
    return cli


def test_stats_of_running_machines_in_each_format(two):
    cli = two
    rows = cli.ok("stats", "--format", "json", "--interval", "0.5").json()
    assert [r["name"] for r in rows] == ["up"], "only running machines have usage"
    row = rows[0]
    assert row["driver"] == "lxc" and row["cpu_percent"] is not None and row["cpu_seconds"] > 0
    assert row["memory_limit"] == 96 * 1024 * 1024 and 0 < row["memory_used"] < row["memory_limit"]
    assert 0 < row["disk_used"] < row["disk_limit"] <= 64 * 1024 * 1024
    assert row["nics"] == []
    once = cli.ok("stats", "up", "--format", "json", "--interval", "0").json()
    assert once[0]["cpu_percent"] is None, "one reading has no interval to measure a percent over"
    table = cli.ok("stats", "--interval", "0").out.splitlines()
    assert table[0].split() == ["NAME", "DRIVER", "CPU", "CPU-SECONDS", "MEMORY", "DISK", "RX", "TX"]
    assert table[1].split()[:2] == ["up", "lxc"] and table[1].split()[4].endswith("/96.0M")
    cli.ok("stop", "up", "--timeout", "10")
    assert cli.ok("stats", "--format", "json", "--interval", "0").json() == []
    assert cli.ok("stats", "--format", "prometheus", "--interval", "0").out == ""


def test_watch_and_output(two, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    cli = two
    lines = cli.ok("stats", "--format", "json", "--watch", "0.3", "--count", "3").out.splitlines()
    assert len(lines) == 3
    assert all([r["name"] for r in json.loads(line)] == ["up"] and json.loads(line)[0]["cpu_percent"] is not None
               for line in lines)
    out = tmp_path / "creature.prom"
    cli.ok("stats", "--format", "prometheus", "--output", str(out), "--watch", "0.2", "--count", "2")
    assert out.stat().st_mode & 0o777 == 0o600
    out.chmod(0o644)  # a collector running as another user: the mode an operator gives it stays
    cli.ok("stats", "--format", "prometheus", "--output", str(out), "--interval", "0")
    assert out.stat().st_mode & 0o777 == 0o644
    names = {f.name for f in text_string_to_metric_families(out.read_text())}
    assert {"creature_machine_cpu_seconds", "creature_machine_memory_used_bytes", "creature_machine_disk_limit_bytes"} <= names
    assert not list(tmp_path.glob(".creature.prom.*")), "no temporary file is left beside it"


def test_stats_refusals_change_nothing(two, tmp_path):
    cli = two
    before = snapshot(cli.home)
    for args, code, says in [
        (("nosuch",), 2, "no machine named 'nosuch'"),
        (("down",), 1, "machine 'down' is not running"),
        (("--interval", "1", "--watch", "1"), 2, "--interval and --watch do not go together"),
        (("--count", "2"), 2, "--count needs --watch"),
        (("--output", str(tmp_path / "no" / "file.prom")), 2, "does not exist"),
        (("--format", "xml"), 2, "Invalid value for '--format'"),
    ]:
        result = cli("stats", *args)
        assert result.code == code and result.err.startswith("creature: error: ") and says in result.err, (args, result.err)
    after = snapshot(cli.home)
    assert after[0] == before[0], "the inventory changed"
    # up was started just before: its guest (and lxc's monitor) may still be writing its logs, which no command does
    changed = sorted(set(after[1]) ^ set(before[1]))
    assert {path for path, _, _ in changed} <= {"machines/up/console.log", "machines/up/lxc.log"}, changed
