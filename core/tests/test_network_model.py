"""Network planning, MAC allocation, lease parsing and the inventory's v1 -> v2 migration (no root needed)."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from creature.builtin.networks import macs
from creature.builtin.networks.dnsmasq import read_leases
from creature.builtin.networks.networks import plan
from creature.errors import InputError
from creature.inventory import SCHEMA_VERSION, Inventory


def test_plan_defaults_split_the_subnet():
    n = plan("lan", subnet="10.77.0.0/24")
    assert (n.bridge, n.gateway, n.dhcp_start, n.dhcp_end) == ("lan", "10.77.0.1", "10.77.0.128", "10.77.0.254")
    # a host address in the subnet names the gateway
    assert plan("lan", subnet="10.77.0.9/24").gateway == "10.77.0.9"
    tiny = plan("p2p", subnet="10.9.0.0/30")
    assert (tiny.gateway, tiny.dhcp_start, tiny.dhcp_end) == ("10.9.0.1", "10.9.0.2", "10.9.0.2")


@pytest.mark.parametrize("options, message", [
    ({"subnet": "10.0.0.0/24", "gateway": "10.0.1.1"}, "outside the subnet"),
    ({"subnet": "10.0.0.0/24", "gateway": "10.0.0.255"}, "broadcast address"),
    ({"subnet": "10.0.0.0/24", "gateway": "10.0.0.0"}, "network address"),
    ({"subnet": "10.0.0.0/31"}, "too small"),
    ({"subnet": "nonsense"}, "invalid subnet"),
    ({"subnet": "10.0.0.0/24", "dhcp_range": "10.0.0.10"}, "FIRST-LAST"),
    ({"subnet": "10.0.0.0/24", "dhcp_range": "10.0.0.10-10.0.1.10"}, "outside the subnet"),
    ({"subnet": "10.0.0.0/24", "bridge": "has space"}, "invalid bridge name"),
    ({"external": "br0", "subnet": "10.0.0.0/24"}, "takes no --subnet"),
])
def test_plan_refuses_bad_input(options, message):
    with pytest.raises(InputError, match=message):
        plan("lan", **options)


def test_macs_are_unicast_under_the_prefix_and_skip_used_ones():
    used = set()
    for _ in range(500):
        mac = macs.allocate("52:54:00", lambda m: m in used)
        assert mac.startswith("52:54:00:") and mac not in used
        used.add(mac)
    with pytest.raises(InputError, match="multicast"):
        macs.check_mac("01:00:5e:00:00:01")
    with pytest.raises(InputError, match="invalid MAC"):
        macs.check_mac("52:54:00:zz:00:01")
    assert macs.check_mac("52:54:00:AB:CD:EF") == "52:54:00:ab:cd:ef"


def test_read_leases_skips_expired_and_ipv6(tmp_path):
    now = time.time()
    path = tmp_path / "leases"
    path.write_text(
        f"{int(now) + 3600} 00:16:3e:00:00:01 10.0.0.5 web 01:00:16:3e:00:00:01\n"
        f"{int(now) - 10} 00:16:3e:00:00:02 10.0.0.6 * *\n"
        "duid 00:01:00:01:2c:aa\n"
        f"{int(now) + 3600} 1234 fd00::5 * 00:01\n"
        f"0 00:16:3E:00:00:03 10.0.0.7 * *\n"
    )
    assert [(lease.mac, lease.ip, lease.hostname) for lease in read_leases(path)] == [
        ("00:16:3e:00:00:01", "10.0.0.5", "web"), ("00:16:3e:00:00:03", "10.0.0.7", None)]
    assert read_leases(tmp_path / "missing") == []


def test_version_1_inventory_gains_network_tables_with_its_nics(tmp_path):
    path = tmp_path / "inventory.sqlite"
    db = sqlite3.connect(path)
    # the version 1 schema, as the first release wrote it
    db.executescript("""
        CREATE TABLE machines (name TEXT PRIMARY KEY, driver TEXT NOT NULL, template TEXT NOT NULL, spec TEXT NOT NULL,
                               data TEXT NOT NULL DEFAULT '{}', dir TEXT NOT NULL, created REAL NOT NULL);
        CREATE TABLE templates (name TEXT PRIMARY KEY, method TEXT NOT NULL, path TEXT NOT NULL, options TEXT NOT NULL DEFAULT '{}',
                                meta TEXT NOT NULL DEFAULT '{}', size INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
        CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, machine TEXT NOT NULL,
                             event TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
        PRAGMA user_version = 1;
    """)
    spec = {"name": "old", "driver": "lxc", "template": "bb", "nics": [{"network": "lan", "mac": "00:16:3E:00:00:09", "ip": "10.0.0.9"}]}
    db.execute("INSERT INTO machines VALUES ('old', 'lxc', 'bb', ?, '{}', '/x', 0)", (json.dumps(spec),))
    db.commit()
    db.close()
    inventory = Inventory(path)
    assert inventory.nics() == [{"mac": "00:16:3e:00:00:09", "machine": "old", "idx": 0, "network": "lan", "ip": "10.0.0.9"}]
    assert inventory.mac_in_use("00:16:3e:00:00:09") == "old"
    assert inventory.networks() == []
    assert inventory.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    inventory.remove_machine("old")
    assert inventory.nics() == []
    inventory.close()


def test_allocation_respects_the_drivers_range():
    from creature.builtin.networks import macs

    seen = {macs.allocate("00:50:56", lambda m: False, max4=0x3F) for _ in range(300)}
    assert all(int(m.split(":")[3], 16) <= 0x3F for m in seen)
    assert len({m.split(":")[3] for m in seen}) > 20  # still spread over the allowed range
