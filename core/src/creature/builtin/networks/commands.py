"""The `creature network` commands, `wait-ip`, and the NIC options of `create`: thin click over creature.builtin.networks.networks."""

from __future__ import annotations

import click

FORMAT = click.Choice(["table", "json", "csv"])


def _api(ctx: click.Context):
    from creature.cli import api

    return api(ctx)


@click.group("network")
def network_group():
    """Bridges with DHCP (dnsmasq), or external bridges, that machines' NICs join."""


@network_group.command("create")
@click.argument("name")
@click.option("--subnet", metavar="CIDR", help="IPv4 subnet, like 10.77.0.0/24 (the gateway defaults to its first host).")
@click.option("--gateway", metavar="IP", help="The bridge's address in the subnet.")
@click.option("--dhcp-range", metavar="FIRST-LAST", help="Addresses for unknown clients (default: the upper half; reservations take the lower).")
@click.option("--no-dhcp", is_flag=True, help="No dnsmasq: guests configure their own addresses.")
@click.option("--bridge", metavar="IFNAME", help="Bridge name (default: the network's name).")
@click.option("--external", metavar="BRIDGE", help="Use an existing bridge whose DHCP is elsewhere.")
@click.pass_context
def network_create(ctx, name, subnet, gateway, dhcp_range, no_dhcp, bridge, external):
    """Create network NAME: a bridge with the gateway address and a dnsmasq serving DHCP on it only."""
    n = _api(ctx).networks.create(name, subnet=subnet, gateway=gateway, dhcp_range=dhcp_range, dhcp=not no_dhcp,
                                  bridge=bridge, external=external)
    what = f"external bridge {n.bridge}" if n.external else f"bridge {n.bridge}, {n.subnet}, gateway {n.gateway}, " + (
        f"DHCP {n.dhcp_start}-{n.dhcp_end}" if n.dhcp else "no DHCP")
    click.echo(f"network {n.name} created ({what})")


@network_group.command("list")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def network_list(ctx, fmt):
    """Networks, their bridge, subnet, DHCP range, state here, and the machines on them."""
    from creature.builtin.support.output import emit

    creature = _api(ctx)
    rows = []
    for n in creature.networks.list():
        status = creature.networks.status(n)
        rows.append({"name": n.name, "bridge": n.bridge, "subnet": n.subnet, "gateway": n.gateway,
                     "dhcp": f"{n.dhcp_start}-{n.dhcp_end}" if n.dhcp else ("external" if n.external else "off"),
                     "state": status.state(n), "dnsmasq_pid": status.dnsmasq, "external": n.external,
                     "machines": creature.inventory.users_of_network(n.name)})
    emit(rows, ["name", "bridge", "subnet", "gateway", "dhcp", "state", "machines"], fmt)


@network_group.command("rm")
@click.argument("name")
@click.pass_context
def network_rm(ctx, name):
    """Remove a network no machine uses: stops its dnsmasq and deletes its bridge."""
    _api(ctx).networks.remove(name)


@network_group.command("up")
@click.argument("names", nargs=-1)
@click.pass_context
def network_up(ctx, names):
    """Bring networks up again (all without names): recreate missing bridges and dnsmasqs."""
    networks = _api(ctx).networks
    if names:
        for n in names:
            networks.up(n)
        return 0
    failed = {name: error for name, error in networks.up_all().items() if error}
    for name, error in failed.items():
        click.echo(f"creature: error: network {name}: {error}", err=True)
    return 1 if failed else 0


@network_group.command("leases")
@click.argument("name")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def network_leases(ctx, name, fmt):
    """The DHCP leases of a network and the machines they belong to."""
    from creature.builtin.support.output import emit

    emit(_api(ctx).networks.leases(name), ["mac", "ip", "machine", "hostname", "expires"], fmt)


@click.command("wait-ip")
@click.argument("name")
@click.option("--timeout", type=click.FloatRange(min=0), default=60.0, show_default=True, help="Seconds to wait.")
@click.option("--ipv6", is_flag=True, help="Any address will do (by default, wait for an IPv4 one).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def wait_ip(ctx, name, timeout, ipv6, fmt):
    """Wait until a running machine has an address; print its addresses."""
    import json

    found = _api(ctx).wait_ip(name, timeout=timeout, ipv6=ipv6)
    if fmt == "json":
        click.echo(json.dumps([a.to_dict() for a in found], indent=2))
    else:
        for a in found:
            click.echo(f"{a.ip}\t{a.mac or '-'}\t{a.source}")
