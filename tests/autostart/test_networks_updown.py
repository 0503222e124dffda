"""host up brings networks up before machines; host down stops their dnsmasq after them; addresses survive a reboot."""

import subprocess
import time

from creature.procs import which


def _ips(cli, names) -> dict[str, list[str]]:
    """Each machine's addresses from dnsmasq's leases. wait-ip answers with the first address it learns from any
    source, and a guest that asks for its old address again may be seen in the neighbour table before dnsmasq
    has written its lease: ask again until the lease is there (or 30 s have passed)."""
    found = {}
    for name in names:
        deadline = time.monotonic() + 30
        while True:
            rows = cli.ok("wait-ip", name, "--timeout", "30", "--format", "json").json()
            found[name] = sorted(r["ip"] for r in rows if r["source"] == "dhcp-lease")
            if found[name] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    return found


def test_networks_come_up_first_and_go_down_last(netns_cli, creature_api, busybox, tools):
    api, cli = creature_api, netns_cli
    tools.need_driver(api, "lxc")
    cli.ok("network", "create", "lan", "--subnet", "10.77.0.0/24")
    common = ("--driver", "lxc", "--template", busybox, "--network", "lan")
    cli.ok("create", "web", *common, "--autostart", "--order", "1")
    cli.ok("create", "batch", *common)
    cli.ok("host", "up")
    cli.ok("start", "batch")
    before = _ips(cli, ["web", "batch"])
    assert all(before.values()), before
    daemon = api.networks.dnsmasq(api.networks.get("lan"))
    assert daemon.running() is not None

    down = cli.ok("host", "down", "--timeout", "10")
    assert down.out.startswith("host down: 2 stopped, 1 network(s) stopped"), down.out
    assert daemon.running() is None, "host down stops the network's dnsmasq"

    # the reboot: the bridge goes with the kernel, the runtime files with /run
    subprocess.run([which("ip"), "-n", cli.netns, "link", "del", "lan"], check=True)
    tools.simulate_reboot(api, ["web", "batch"])
    up = cli.ok("host", "up", "--restore")
    assert up.out.startswith("host up: 2 started, 1 network(s) up"), up.out
    assert daemon.running() is not None
    assert _ips(cli, ["web", "batch"]) == before, "restored machines keep their addresses"
    again = cli.ok("host", "up")
    assert again.out.startswith("host up: 1 already running, 1 network(s) up"), again.out
