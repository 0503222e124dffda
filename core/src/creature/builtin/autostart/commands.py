"""`creature autostart NAME on|off` and `creature host up|down|status|install-service`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from creature.builtin.commands.machines import autostart_options
from creature.cli import FORMAT, api
from creature.errors import InputError


@click.command()
@click.argument("name")
@click.argument("switch", metavar="on|off")
@autostart_options
@click.pass_context
def autostart(ctx, name, switch, order, delay):
    """Start machine NAME at `host up` (on) or not (off), with its order and delay."""
    if switch not in ("on", "off"):
        raise InputError(f"autostart wants on or off, got {switch!r}")
    info = api(ctx).set_autostart(name, switch == "on", order, delay)
    machine = api(ctx).machine(name)
    click.echo(f"machine {info.name}: autostart {switch}, order {machine.spec.autostart_order}, delay {machine.spec.autostart_delay:g} s")


def _this_host(ctx, command: str):
    """The API of this host's own home: host up, down and the boot service never act on a remote host."""
    if ctx.find_root().obj.get("host"):
        raise InputError(f"`host {command}` acts on this host's machines only: drop --host")
    return api(ctx)


def _host_progress():
    if not sys.stderr.isatty():
        return None
    from creature.builtin.autostart.progress import TerminalProgress

    return TerminalProgress()


def _host_report(report) -> int:
    click.echo(report.summary())
    for name in report.names("failed"):
        click.echo(f"creature: error: {name}: {report.errors[name]}", err=True)
    for name in report.names("skipped"):
        click.echo(f"creature: {name} skipped: {report.errors[name]}", err=True)
    for name, error in report.network_errors.items():
        click.echo(f"creature: error: network {name}: {error}", err=True)
    return 0 if report.ok else 1


@click.command("up")
@click.option("--restore", is_flag=True, help="Also start the machines that were running at the last `host down`.")
@click.pass_context
def host_up(ctx, restore):
    """Bring up networks, then start autostart machines by ascending order."""
    return _host_report(_this_host(ctx, "up").host_up(restore=restore, progress=_host_progress()))


@click.command("down")
@click.option("--timeout", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="Seconds, in all, to wait for graceful shutdowns before forcing what still runs.")
@click.pass_context
def host_down(ctx, timeout):
    """Stop every running machine by descending order, then the networks; exit 1 if any had to be forced."""
    report = _this_host(ctx, "down").host_down(timeout=timeout, progress=_host_progress())
    forced = report.names("forced")
    if forced:
        click.echo(f"creature: forced off after {timeout:g} s: {', '.join(forced)}", err=True)
    return _host_report(report)


@click.command("status")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def host_status(ctx, fmt):
    """Autostart machines and their state; exit 3 (LSB: not running) when one of them is not running."""
    from creature.builtin.support.output import emit

    infos = [i for i in api(ctx).list_machines() if i.autostart]
    specs = {m.name: m.spec for m in api(ctx).inventory.machines()}
    rows = [{"name": i.name, "driver": i.driver, "order": specs[i.name].autostart_order,
             "delay": specs[i.name].autostart_delay, "state": i.state.value} for i in infos]
    rows.sort(key=lambda r: (r["order"], r["name"]))
    emit(rows, ["name", "driver", "order", "delay", "state"], fmt)
    return 0 if all(r["state"] == "running" for r in rows) else 3


@click.command("install-service")
@click.option("--init", type=click.Choice(["systemd", "sysv"]), help="Init system (default: systemd if it runs this host, else sysv).")
@click.option("--timeout", type=click.FloatRange(min=0), default=60.0, show_default=True, help="host down's timeout at shutdown.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the file here instead.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/"), show_default=True,
              help="Install below this folder (for images and tests).")
@click.option("--force", is_flag=True, help="Replace a file creature did not write.")
@click.pass_context
def host_install_service(ctx, init, timeout, output, root, force):
    """Write a systemd unit or sysv init script that runs `host up` at boot and `host down` at shutdown."""
    from creature.builtin.autostart import service

    init = init or service.default_init()
    path = service.install(init, _this_host(ctx, "install-service").home.root, timeout, output=output, root=root, force=force)
    enable = "systemctl daemon-reload && systemctl enable creature.builtin.autostart.service" if init == "systemd" else "update-rc.d creature defaults"
    click.echo(f"wrote {path}; enable it with: {enable}")
