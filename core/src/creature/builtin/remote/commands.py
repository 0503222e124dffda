"""`creature host add|list|rm`: the remote hosts (libvirt URIs) that `--host` and `list --all-hosts` reach."""

from __future__ import annotations

import click

FORMAT = click.Choice(["table", "json", "csv"])


def _hosts(ctx: click.Context):
    from creature.builtin.remote.hosts import Hosts
    from creature.home import Home

    return Hosts(Home(ctx.find_root().obj.get("home")))


@click.command("add")
@click.argument("name")
@click.argument("uri")
@click.option("--driver", help="Default driver of machines created there (default: libvirt-qemu).")
@click.pass_context
def host_add(ctx, name, uri, driver):
    """Remember a remote host by its libvirt URI (qemu+ssh://user@host/system)."""
    _hosts(ctx).add(name, uri, driver or "libvirt-qemu")
    click.echo(f"host {name} added ({uri})")


@click.command("list")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def host_list(ctx, fmt):
    """The remote hosts and their URIs."""
    from creature.output import emit

    hosts = _hosts(ctx)
    emit([{"name": n, "uri": hosts.uri(n)} for n in hosts.names()], ["name", "uri"], fmt)


@click.command("rm")
@click.argument("name")
@click.pass_context
def host_rm(ctx, name):
    """Forget a remote host that has no machines left."""
    _hosts(ctx).remove(name)
    click.echo(f"host {name} removed")
