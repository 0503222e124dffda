"""What only a cluster does, on the lab's two real Ganeti nodes: placement, live migration, failover, bulk listing,
bad input refused without a trace, failed jobs as one line, the probe's reasons, and NICs with MAC, IP and link.

Host "lab" makes kvm instances (QEMU TCG guests), host "labfake" fake ones (Ganeti's control plane alone).
Every check of where an instance runs also asks Ganeti's own CLI on the master (lab.node_run), not only creature.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from creature.testing import CLI, snapshot

pytestmark = pytest.mark.slow


def ganeti_view(lab, name: str) -> dict:
    """One instance as `gnt-instance list` on the master shows it."""
    out = lab.node_run(0, ["gnt-instance", "list", "--no-headers", "--separator=|", "-o",
                           "name,pnode,status,disk_template,disk.size/0,nic.mac/0,nic.link/0,nic.ip/0,hypervisor", name]).stdout
    keys = ["name", "pnode", "status", "disk_template", "disk_size", "mac", "link", "ip", "hypervisor"]
    return dict(zip(keys, out.strip().split("|"), strict=True))


def unchanged(home):
    """What must not change: each lab host's own creature home (creature.testing.snapshot leaves out its locks)."""
    return [snapshot(home / "hosts" / host) for host in ("lab", "labfake")]


def one_error_line(result, code: int, *needles: str) -> str:
    lines = result.err.splitlines()
    assert result.code == code, f"exit {result.code} (wanted {code}): {result.err}"
    assert len(lines) == 1 and lines[0].startswith("creature: error: "), result.err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


@pytest.fixture
def lab_cli(cluster_home) -> CLI:
    return CLI(cluster_home, env={"CREATURE_HOST": "lab"})


@pytest.fixture
def fake_cli(cluster_home) -> CLI:
    return CLI(cluster_home, env={"CREATURE_HOST": "labfake"})


def test_placement_live_migration_and_failover(lab_cli, ganeti_lab):
    """Allocator placement, live migration to the other node and back (running all along), failover: each seen by `show`."""
    cli = lab_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    cli.ok("create", "mover", "--template", "bb", "--memory", "128M", "--option", "disk_template=sharedfile")
    placed = cli.ok("show", "mover", "--format", "json").json()
    first = placed["node"]
    assert first in ("node1.gnt.test", "node2.gnt.test"), placed
    assert ganeti_view(ganeti_lab, "mover")["pnode"] == first
    other = "node2.gnt.test" if first == "node1.gnt.test" else "node1.gnt.test"
    cli.ok("start", "mover")
    everywhere = CLI(cli.home).ok("list", "--all-hosts", "--format", "json").json()
    assert [(r["host"], r["name"], r["state"], r["node"]) for r in everywhere] == [("lab", "mover", "running", first)]
    table = cli.ok("list").out.splitlines()
    assert table[0].split()[:4] == ["NAME", "DRIVER", "STATE", "NODE"] and table[1].split()[:4] == ["mover", "ganeti", "running", first]

    moved = cli.ok("migrate", "mover", "--node", other.split(".")[0])
    assert f"on {other} (was {first}), running" in moved.out
    shown = cli.ok("show", "mover", "--format", "json").json()
    assert (shown["node"], shown["state"]) == (other, "running")
    assert ganeti_view(ganeti_lab, "mover")["pnode"] == other

    back = cli.ok("migrate", "mover", "--node", first)
    assert f"on {first} (was {other}), running" in back.out
    shown = cli.ok("show", "mover", "--format", "json").json()
    assert (shown["node"], shown["state"]) == (first, "running")

    one_error_line(cli("migrate", "mover", "--node", first), 2, f"is on {first} already")

    cli.ok("failover", "mover", "--timeout", "30")
    shown = cli.ok("show", "mover", "--format", "json").json()
    assert (shown["node"], shown["state"]) == (other, "running"), shown
    assert ganeti_view(ganeti_lab, "mover")["pnode"] == other
    cli.ok("stop", "mover", "--timeout", "30")
    one_error_line(cli("migrate", "mover"), 1, "is not running")
    cli.ok("destroy", "mover")
    assert "mover" not in ganeti_lab.instances()


def test_options_take_effect(fake_cli, ganeti_lab):
    """--node, disk template, disk size and memory/vCPUs reach the instance, as Ganeti itself reports it."""
    cli = fake_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    cli.ok("create", "placed", "--template", "bb", "--node", "node2", "--memory", "256M", "--cpus", "2",
           "--option", "disk_template=file", "--option", "disk_size=2G")
    seen = ganeti_view(ganeti_lab, "placed")
    assert (seen["pnode"], seen["disk_template"], seen["hypervisor"]) == ("node2.gnt.test", "file", "fake"), seen
    assert seen["disk_size"].replace(".0", "") in ("2G", "2048M", "2048"), seen
    beparams = ganeti_lab.rapi().request("GET", "/2/instances/placed")["beparams"]
    assert (beparams["maxmem"], beparams["vcpus"]) == (256, 2), beparams
    shown = cli.ok("show", "placed", "--format", "json").json()
    assert shown["node"] == "node2.gnt.test" and shown["details"]["disks"] == "file: 2048 MiB"


def test_listing_costs_one_rapi_request_for_any_count(cluster_home, fake_cli, ganeti_lab, host_api):
    """`list` over 5 and over 50 instances: the same requests, one bulk GET (API counter and the CLI's connections)."""
    from creature_ganeti.rapi import Rapi

    api = host_api("labfake")
    api.templates.build("bb", "busybox")

    def each(names, action):
        def chunk(share):
            own = host_api("labfake")  # an API (and inventory connection) per thread
            try:
                for name in share:
                    action(own, name)
            finally:
                own.inventory.close()
        with ThreadPoolExecutor(4) as pool:  # Ganeti runs one creation at a time: 4 keep its queue full
            list(pool.map(chunk, [names[i::4] for i in range(4)]))

    def make(names):
        each(names, lambda own, name: own.create({"name": name, "template": "bb", "memory": "128M"}))

    def counted() -> tuple[dict, int, list]:
        before = Rapi.calls.copy()
        infos = api.list_machines()
        api_calls = dict(Rapi.calls - before)
        before_cli = ganeti_lab.forwarder.connections
        rows = fake_cli.ok("list", "--format", "json").json()
        assert len(rows) == len(infos)
        return api_calls, ganeti_lab.forwarder.connections - before_cli, infos

    started = time.monotonic()
    make([f"n{i:02d}" for i in range(5)])
    few_api, few_cli, infos = counted()
    assert len(infos) == 5
    make([f"n{i:02d}" for i in range(5, 50)])
    made = time.monotonic() - started
    api.start("n07")
    many_api, many_cli, infos = counted()
    assert len(infos) == 50 and len(ganeti_lab.instances()) == 50
    assert {i.name: i.state.value for i in infos if i.state.value != "stopped"} == {"n07": "running"}
    assert {i.node for i in infos} <= {"node1.gnt.test", "node2.gnt.test"} and all(i.node for i in infos)
    assert many_api == few_api == {"GET /2/instances?bulk=1": 1}, (few_api, many_api)
    assert many_cli == few_cli == 1, (few_cli, many_cli)
    started = time.monotonic()
    api.kill("n07")
    each([i.name for i in infos], lambda own, name: own.destroy(name))
    assert ganeti_lab.instances() == [] and api.list_machines() == []
    print(f"\n50 fake instances created in {made:.1f} s, destroyed in {time.monotonic() - started:.1f} s (4 at a time); "
          f"RAPI requests per list: {few_api} / {many_api}; CLI connections per list: {few_cli} / {many_cli}")
    api.inventory.close()


def test_bad_input_exits_2_and_changes_nothing(cluster_home, fake_cli, lab_cli, ganeti_lab):
    cli = fake_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    before, instances = unchanged(cluster_home), ganeti_lab.instances()
    for args, needles in (
            (["--node", "node9"], ["has no node 'node9'", "node1.gnt.test"]),
            (["--option", "disk_size=512M"], ["disk size 512 MiB is below the cluster's instance policy minimum of 1024 MiB"]),
            (["--option", "disk_size=lots"], ["invalid disk size"]),
            (["--option", "disk_template=drbd"], ["disk template 'drbd' is not enabled"]),
            (["--option", "colour=blue"], ["colour"]),
            (["--memory", "64M"], ["memory 64 MiB is below the cluster's instance policy minimum of 128 MiB"]),
            (["--cpus", "9"], ["vCPUs 9 is above the cluster's instance policy maximum of 8"])):
        one_error_line(cli("create", "bad", "--template", "bb", *args), 2, *needles)
    one_error_line(lab_cli("migrate", "nothere"), 2, "no machine named 'nothere'")
    assert unchanged(cluster_home) == before
    assert ganeti_lab.instances() == instances


def test_host_add_refuses_bad_url_password_and_rights(creature_home, ganeti_lab, tmp_path):
    """Bad URL, wrong password, a user without write access: exit 2, one line, no host remembered, no secret in argv."""
    module = sys.modules["ganeti_lab_runner"]  # lab.py, loaded by the ganeti_lab fixture
    cli = CLI(creature_home)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(ganeti_lab.ca_cert)
    good, wrong = tmp_path / "pw", tmp_path / "wrong"
    good.write_text(ganeti_lab.password + "\n")
    wrong.write_text("not-the-password\n")
    rest = ["--driver", "ganeti", "--user", module.RAPI_USER, "--ca-cert", str(ca),
            "--option", f"image_dir={ganeti_lab.image_dir}", "--option", f"node_image_dir={module.NODE_IMAGE_DIR}"]

    def add(url, *more, user=module.RAPI_USER, **kwargs):
        return cli("host", "add", "c1", url, *[user if a == module.RAPI_USER else a for a in rest], *more, **kwargs)

    before = snapshot(creature_home)
    port = ganeti_lab.forwarder.port
    for url, needle in ((f"http://127.0.0.1:{port}", "use https://HOST[:PORT]"),
                        (f"https://creature:secret@127.0.0.1:{port}", "never in the URL"),
                        (f"https://127.0.0.1:{port}/2/info", "without a path"),
                        ("https://127.0.0.1:1", "cannot reach Ganeti's RAPI at https://127.0.0.1:1")):
        one_error_line(add(url, "--password-file", str(good)), 2, needle)
    one_error_line(add(ganeti_lab.url, "--password-file", str(wrong)), 2,
                   f"refused user '{module.RAPI_USER}': wrong user name or password (HTTP 401)")
    one_error_line(add(ganeti_lab.url, "--password-file", "-"), 2, "is empty")
    # a certificate that is not the cluster's: the TLS handshake fails, nothing is sent
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
                    "/CN=ganeti.example.com", "-days", "2", "-keyout", str(other / "key"), "-out", str(other / "cert")],
                   check=True, capture_output=True)
    one_error_line(cli("host", "add", "c1", ganeti_lab.url, *[str(other / "cert") if a == str(ca) else a for a in rest],
                       "--password-file", str(good)), 2, "TLS: the certificate of", "is not the one trusted")
    one_error_line(add(ganeti_lab.url, "--password-file", str(good), "--option", "colour=blue"), 2, "takes no --option colour")
    # a user the cluster lets read only
    ganeti_lab.node_run(0, ["sh", "-c", "read -r pw; printf 'reader %s\\n' \"$pw\" >> /var/lib/ganeti/rapi/users"],
                        input=ganeti_lab.password + "\n")
    time.sleep(1)  # the RAPI daemon re-reads its users file when it changes
    one_error_line(add(ganeti_lab.url, "--password-file", str(good), user="reader"), 2, "HTTP 403")
    assert snapshot(creature_home) == before

    added = add(ganeti_lab.url, "--password-file", "-", input=ganeti_lab.password + "\n")
    assert added.code == 0, added.err
    assert CLI(creature_home).ok("host", "list", "--format", "json").json() == [{"name": "c1", "uri": ganeti_lab.url}]
    folder = creature_home / "hosts" / "c1"
    modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
    assert set(modes.values()) == {0o600}, modes
    assert (folder / "rapi-password").read_text() == ganeti_lab.password + "\n"
    assert b"PRIVATE KEY" not in (folder / "rapi-ca.pem").read_bytes()
    kept = "".join(p.read_text() for p in folder.iterdir() if p.name != "rapi-password")
    assert ganeti_lab.password not in kept


def test_failed_jobs_are_one_line_naming_job_and_opcode(cluster_home, lab_cli, fake_cli, ganeti_lab, host_api):
    cli = fake_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    lab_cli.ok("template", "build", "bb", "--method", "busybox")
    cli.ok("create", "twin", "--template", "bb")
    from creature.sdk import disk_image

    api = host_api("lab")
    disk_image(api.home, api.templates.get("bb"))  # made by the first create that reaches the cluster: made here first
    api.inventory.close()
    before = unchanged(cluster_home)
    # the same name from another creature host on the same cluster: Ganeti refuses it before doing anything
    line = one_error_line(lab_cli("create", "twin", "--template", "bb"), 2, "(OP_INSTANCE_CREATE) failed:",
                          "already in the cluster", "[already_exists]")
    assert line.startswith("creature: error: ganeti job ")
    assert unchanged(cluster_home) == before and ganeti_lab.instances() == ["twin"]
    # a job that fails on the node: the instance's kernel is gone from the shared image folder
    lab_cli.ok("create", "broken", "--template", "bb")
    kernels = list(ganeti_lab.image_dir.glob("vmlinux-*"))
    assert kernels
    for kernel in kernels:
        kernel.rename(kernel.with_name(f".{kernel.name}.away"))
    try:
        line = one_error_line(lab_cli("start", "broken"), 1, "(OP_INSTANCE_STARTUP) failed:", "ganeti job ")
    finally:
        for kernel in kernels:
            kernel.with_name(f".{kernel.name}.away").rename(kernel)
    assert "kernel_path" in line or "vmlinux" in line, line
    # Ganeti marked it up before the node failed to run it: ERROR_down, which creature calls crashed
    assert ganeti_view(ganeti_lab, "broken")["status"] == "ERROR_down"
    assert lab_cli.ok("show", "broken", "--format", "json").json()["state"] == "crashed"
    lab_cli.ok("start", "broken")  # with its kernel back it starts
    assert lab_cli.ok("show", "broken", "--format", "json").json()["state"] == "running"


def test_probe_names_what_is_missing(cluster_home, fake_cli, ganeti_lab):
    def ganeti_checks(cli) -> dict:
        drivers = cli.ok("host", "check", "--format", "json").json()["drivers"]
        assert "lxc" not in drivers, "on another host only the drivers that reach it are asked"
        rows = drivers["ganeti"]
        return {c["name"]: c for c in rows["checks"]} | {"usable": rows["usable"]}

    checks = ganeti_checks(fake_cli)
    assert checks["usable"] and {"rapi", "hypervisor", "nodes", "os", "images"} <= set(checks), checks
    # no usable hypervisor: the cluster enables only chroot for a moment
    rapi = ganeti_lab.rapi()
    rapi.run("PUT", "/2/modify", {"enabled_hypervisors": ["chroot"]})
    try:
        checks = ganeti_checks(fake_cli)
        fake_cli.ok("template", "build", "bb", "--method", "busybox")
        refused = fake_cli("create", "nohv", "--template", "bb")
    finally:
        rapi.run("PUT", "/2/modify", {"enabled_hypervisors": ["kvm", "fake"]})
    assert not checks["usable"] and "the cluster enables chroot; creature drives kvm and fake" in checks["hypervisor"]["reason"]
    one_error_line(refused, 2, "driver 'ganeti' is not usable on this host", "enables chroot")
    # bad credentials: the password kept for the host no longer holds
    password = cluster_home / "hosts" / "labfake" / "rapi-password"
    kept = password.read_text()
    password.write_text("changed-since\n")
    try:
        checks = ganeti_checks(fake_cli)
    finally:
        password.write_text(kept)
    assert not checks["usable"] and "wrong user name or password (HTTP 401)" in checks["rapi"]["reason"]
    # no RAPI reachable: the host's URL points at a port nobody listens on
    settings = cluster_home / "hosts" / "labfake" / "ganeti.json"
    original = settings.read_text()
    settings.write_text(json.dumps(json.loads(original) | {"url": "https://127.0.0.1:1"}))
    try:
        checks = ganeti_checks(fake_cli)
    finally:
        settings.write_text(original)
    assert not checks["usable"] and "cannot reach Ganeti's RAPI at https://127.0.0.1:1" in checks["rapi"]["reason"]
    assert ganeti_checks(fake_cli)["usable"]


def test_nics_with_mac_ip_and_link(fake_cli, ganeti_lab):
    cli = fake_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    # the cluster's bridge, as a creature network of that host: not looked for on this host
    cli.ok("network", "create", "lan", "--external", "gntbr0")
    assert cli.ok("network", "list", "--format", "json").json()[0]["state"] == "remote"
    cli.ok("create", "nic1", "--template", "bb", "--network", "lan", "--mac", "aa:00:00:12:34:56", "--ip", "192.0.2.77",
           "--network", "lan")
    seen = ganeti_view(ganeti_lab, "nic1")
    assert (seen["mac"], seen["link"], seen["ip"]) == ("aa:00:00:12:34:56", "gntbr0", "192.0.2.77"), seen
    cli.ok("start", "nic1")
    shown = cli.ok("show", "nic1", "--format", "json").json()
    assert shown["macs"][0] == "aa:00:00:12:34:56" and len(shown["macs"]) == 2 and shown["macs"][1].startswith("aa:00:00:")
    assert shown["ips"] == ["192.0.2.77"]
    assert {"mac": "aa:00:00:12:34:56", "ip": "192.0.2.77", "source": "ganeti"} in shown["addresses"]
    assert "aa:00:00:12:34:56 on gntbr0" in shown["details"]["ganeti nics"]
    one_error_line(cli("create", "nic2", "--template", "bb", "--network", "lan", "--ip", "192.0.2.77"), 2,
                   "already given to machine 'nic1'")


def test_dry_run_shows_the_rapi_requests(cluster_home, lab_cli, ganeti_lab):
    cli = lab_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    before, instances = unchanged(cluster_home), ganeti_lab.instances()
    out = cli.ok("create", "dry", "--template", "bb", "--node", "node1", "--dry-run").out
    assert f"POST {ganeti_lab.url}/2/instances" in out and '"pnode": "node1.gnt.test"' in out
    assert '"kernel_path": "/srv/ganeti/creature-images/vmlinux-' in out
    assert ganeti_lab.password not in out
    assert unchanged(cluster_home) == before and ganeti_lab.instances() == instances
    cli.ok("create", "dry", "--template", "bb")
    assert cli.ok("start", "dry", "--dry-run").out.splitlines()[1] == f"PUT {ganeti_lab.url}/2/instances/dry/startup"
    assert cli.ok("show", "dry", "--format", "json").json()["state"] == "stopped"


def test_stop_forces_a_guest_that_ignores_the_power_button(lab_cli, ganeti_lab):
    """Graceful up to the timeout, then forced, and said so: the guest's kernel is told nothing of the power button."""
    cli = lab_cli
    cli.ok("template", "build", "bb", "--method", "busybox")
    cli.ok("create", "deaf", "--template", "bb")
    kernel_args = ganeti_lab.rapi().request("GET", "/2/instances/deaf")["hvparams"]["kernel_args"]
    assert "creature.acpi=" in kernel_args
    # without creature.acpi= the initramfs starts no acpid, and busybox's init ignores the button
    deaf = " ".join(w for w in kernel_args.split() if not w.startswith("creature.acpi="))
    ganeti_lab.node_run(0, ["gnt-instance", "modify", "-H", f"kernel_args={deaf}", "deaf"])
    cli.ok("start", "deaf")
    time.sleep(3)  # booted: the button would have been heard by now if anything listened
    started = time.monotonic()
    stopped = cli.ok("stop", "deaf", "--timeout", "4")
    took = time.monotonic() - started
    assert "did not shut down within 4 s and was forced off" in stopped.err, (stopped.err, took)
    assert took >= 4, took
    assert cli.ok("show", "deaf", "--format", "json").json()["state"] == "stopped"
    assert ganeti_view(ganeti_lab, "deaf")["status"] == "ADMIN_down"
