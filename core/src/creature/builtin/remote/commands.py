"""`creature host add|list|rm`: the remote hosts (libvirt URIs, Ganeti clusters) that `--host` and `list --all-hosts` reach."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from creature.errors import InputError

FORMAT = click.Choice(["table", "json", "csv"])


def _hosts(ctx: click.Context):
    from creature.builtin.remote.hosts import Hosts
    from creature.home import Home

    return Hosts(Home(ctx.find_root().obj.get("home")))


def _read(path: Path, what: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise InputError(f"{what} {str(path)!r}: {exc.strerror}") from None


def _password(user: str | None, password_file: Path | None) -> str | None:
    """The password from its file (- for stdin), or asked for on a terminal; never from the command line."""
    if password_file is not None:
        if user is None:
            raise InputError("--password-file needs --user")
        text = _read(password_file, "password file").decode(errors="replace")
        password = text.splitlines()[0] if text.splitlines() else ""
        if not password:
            raise InputError(f"password file {str(password_file)!r} is empty")
        return password
    if user is not None and sys.stdin.isatty():
        return click.prompt(f"password of {user}", hide_input=True)
    return None


@click.command("add")
@click.argument("name")
@click.argument("uri")
@click.option("--driver", help="Default driver of machines created there (default: libvirt-qemu).")
@click.option("--user", help="User name for the host's API (ganeti: a RAPI user with write access).")
@click.option("--password-file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="File whose first line is the password (- reads stdin; on a terminal without it, you are asked).")
@click.option("--ca-cert", type=click.Path(dir_okay=False, path_type=Path),
              help="The host's own TLS certificate (PEM), trusted instead of the system's CAs.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Driver setting for this host (repeatable).")
@click.pass_context
def host_add(ctx, name, uri, driver, user, password_file, ca_cert, options):
    """Remember a remote host: a libvirt URI (qemu+ssh://user@host/system), or a Ganeti cluster (--driver ganeti https://HOST:5080)."""
    from creature.builtin.commands.options import key_values
    from creature.builtin.remote.hosts import HostAccess

    access = HostAccess(user=user, password=_password(user, password_file),
                        ca_cert=_read(ca_cert, "certificate file") if ca_cert is not None else None, options=key_values(options))
    _hosts(ctx).add(name, uri, driver or "libvirt-qemu", access)
    click.echo(f"host {name} added ({uri})")


@click.command("list")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def host_list(ctx, fmt):
    """The remote hosts and their URIs."""
    from creature.builtin.support.output import emit

    hosts = _hosts(ctx)
    emit([{"name": n, "uri": hosts.uri(n)} for n in hosts.names()], ["name", "uri"], fmt)


@click.command("rm")
@click.argument("name")
@click.pass_context
def host_rm(ctx, name):
    """Forget a remote host that has no machines left."""
    _hosts(ctx).remove(name)
    click.echo(f"host {name} removed")
