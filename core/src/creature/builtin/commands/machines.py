"""The machine commands: create, list, show, start, stop, restart, kill, destroy, exec, console."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from creature.builtin.commands.actions import WANT, act, each, targets
from creature.builtin.commands.listing import COLUMNS as LIST_COLUMNS
from creature.cli import FORMAT, api
from creature.errors import CreatureError, InputError


def nics_from(networks: tuple[str, ...], macs: tuple[str, ...], ips: tuple[str, ...]) -> list[dict] | None:
    """NIC dicts from repeated --network/--mac/--ip: the n-th --mac and --ip belong to the n-th --network."""
    if not networks:
        if macs or ips:
            raise InputError("--mac and --ip belong to a NIC: give --network NAME first")
        return None
    for flag, values in (("--mac", macs), ("--ip", ips)):
        if len(values) > len(networks):
            raise InputError(f"{len(values)} {flag} for {len(networks)} --network: the n-th {flag} goes with the n-th --network")
    return [{"network": n, "mac": macs[i] if i < len(macs) else None, "ip": ips[i] if i < len(ips) else None}
            for i, n in enumerate(networks)]


def nic_options(f):
    """Add --network/--mac/--ip to a command; it receives them as one `nics` argument (None when not given)."""
    @functools.wraps(f)
    def wrapper(*args, network, mac, ip, **kwargs):
        return f(*args, nics=nics_from(network, mac, ip), **kwargs)

    wrapper = click.option("--ip", multiple=True, metavar="IP", help="Reserve this address for the NIC (repeatable, in --network order).")(wrapper)
    wrapper = click.option("--mac", multiple=True, metavar="MAC", help="Use this MAC for the NIC (repeatable, in --network order).")(wrapper)
    return click.option("--network", multiple=True, metavar="NAME", help="Add a NIC on this creature network (repeatable).")(wrapper)


def _dry_run_option(f):
    return click.option("--dry-run", is_flag=True, help="Print the files and commands instead of changing anything.")(f)


def _print_plan(plan: dict) -> None:
    import shlex

    click.echo(f"# dry run: nothing was changed (driver {plan['driver']}, "
               + ("usable here)" if plan["usable"] else f"not usable here: {plan['reason']})"))
    for f in plan["files"]:
        click.echo(f"# file {f['path']} ({f['mode']}, {f['size']} bytes)")
        click.echo(f["content"].rstrip("\n") if f["content"] is not None else "(binary)")
    for action, commands in plan["commands"].items():
        click.echo(f"# {action}: " + ("(not shown by this driver)" if commands is None else "" if commands else "(no command)"))
        for argv in commands or []:
            click.echo(shlex.join(argv))


def _planeach(creature, names: list[str], action: str) -> int:
    import shlex

    for n in names:
        click.echo(f"# dry run: {action} {n}")
        for argv in creature.plan(n, action):
            click.echo(shlex.join(argv))
    return 0


def _spec_from(file: Path | None, name: str | None, given: dict) -> dict:
    data: dict = {}
    if file is not None:
        import tomllib

        try:
            data = tomllib.loads(file.read_text())
        except FileNotFoundError:
            raise InputError(f"spec file {str(file)!r} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"spec file {str(file)!r} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise InputError(f"spec file {str(file)!r}: {exc.strerror}") from None
    if name is not None:
        data["name"] = name
    if "name" not in data:
        raise InputError("a machine needs a name: creature create NAME ... or name = in the spec file")
    data.update({k: v for k, v in given.items() if v is not None})
    return data


def autostart_options(f):
    """--order and --delay of autostart (create and `creature autostart`)."""
    f = click.option("--delay", type=click.FloatRange(0, 3600), help="Seconds `host up` waits after starting it before the next order.")(f)
    return click.option("--order", type=click.IntRange(0, 1000), help="Autostart order: lower starts first, stops last.")(f)


@click.command()
@click.argument("name", required=False)
@click.option("-f", "--file", "file", type=click.Path(dir_okay=False, path_type=Path), help="Machine spec (TOML).")
@click.option("--driver", help="Driver (default: CREATURE_DRIVER, config, best usable).")
@click.option("--template", help="Template to clone.")
@click.option("--cpus", type=int)
@click.option("--memory", help="Memory, like 512M or 2G.")
@click.option("--disk", metavar="SIZE", help="Hard limit of its disk (VMs) or writable layer (containers), like 2G.")
@click.option("--autostart/--no-autostart", default=None, help="Start at `creature host up`.")
@autostart_options
@click.option("--ssh-key", type=click.Path(dir_okay=False, path_type=Path), help="SSH public key file for root's authorized_keys.")
@click.option("--root-password", envvar="CREATURE_ROOT_PASSWORD", help="Root password (stored only as a hash, in the guest).")
@click.option("--cloud-init", type=click.Path(dir_okay=False, path_type=Path),
              help="cloud-init user-data (#cloud-config YAML, a #! script, MIME multi-part) for a NoCloud seed.")
@click.option("--cloud-init-meta-data", "meta_data", type=click.Path(dir_okay=False, path_type=Path),
              help="cloud-init meta-data (a YAML mapping) for the seed; instance-id and local-hostname default to creature's.")
@click.option("--cloud-init-network-config", "network_config", type=click.Path(dir_okay=False, path_type=Path),
              help="cloud-init network-config (version 1 or 2 YAML) for the seed.")
@click.option("--node", help="Cluster node to place it on (default: the cluster's allocator chooses).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Driver option (repeatable), like disk_size=2G for ganeti.")
@_dry_run_option
@nic_options
@click.pass_context
def create(ctx, name, file, driver, template, cpus, memory, disk, autostart, order, delay, ssh_key, root_password, cloud_init,
           meta_data, network_config, node, options, dry_run, nics):
    """Create machine NAME from a template."""
    from creature.builtin.commands.options import key_values

    data = _spec_from(file, name, {"driver": driver, "template": template, "cpus": cpus, "memory": memory, "disk": disk,
                                   "autostart": autostart, "autostart_order": order, "autostart_delay": delay, "nics": nics,
                                   "node": node, "options": key_values(options) or None})
    if "template" not in data:
        raise InputError("a machine needs a template: --template NAME (see `creature template list`)")
    from creature.builtin.guest.adjust import Access
    from creature.builtin.guest.nocloud import NoCloud

    access = Access.of(ssh_key, root_password)
    nocloud = NoCloud.read(cloud_init, meta_data, network_config)
    if dry_run:
        _print_plan(api(ctx).plan_create(data, access=access, cloud_init=nocloud))
        return 0
    info = api(ctx).create(data, access=access, cloud_init=nocloud)
    click.echo(f"machine {info.name} created ({info.driver}, from {info.template}, clone: {info.clone or 'none'})")


@click.command("list")
@click.option("--driver")
@click.option("--state")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.option("--all-hosts", is_flag=True, help="Also list every remote host's machines, with a HOST column.")
@click.pass_context
def list_(ctx, driver, state, fmt, all_hosts):
    """Machines with their state, MACs and IPs."""
    from creature.builtin.support.output import emit

    if all_hosts:
        rows, warnings = _all_hosts(ctx, driver=driver, state=state)
        for warning in warnings:
            click.echo(f"creature: warning: {warning}", err=True)
        emit(rows, ["host", *_with_node(LIST_COLUMNS, rows)], fmt)
        return
    root = ctx.find_root().obj
    if root.get("host") in (None, "local"):
        from creature.builtin.commands.listing import list_rows
        from creature.home import Home

        emit(list_rows(Home(root.get("home")).root, driver=driver, state=state), LIST_COLUMNS, fmt)
        return
    from creature.builtin.commands.listing import info_row

    rows = [info_row(i) | {"node": i.node} for i in api(ctx).list_machines(driver=driver, state=state)]
    columns = _with_node(LIST_COLUMNS, rows)
    emit([{c: r[c] for c in columns} for r in rows], columns, fmt)


def _with_node(columns: list[str], rows: list[dict]) -> list[str]:
    """columns with "node" after "state" where a row has one (machines on a cluster): other listings stay as they were."""
    if not any(r.get("node") for r in rows):
        return columns
    at = columns.index("state") + 1
    return [*columns[:at], "node", *columns[at:]]


@click.command()
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def show(ctx, name, fmt):
    """Everything about one machine."""
    from creature.builtin.commands.listing import show_data, show_text

    root = ctx.find_root().obj
    if root.get("host") in (None, "local"):
        from creature.home import Home

        click.echo(show_text(show_data(Home(root.get("home")).root, name), fmt))
        return
    click.echo(show_text(api(ctx).info(name).to_dict(), fmt))


@click.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every stopped machine.")
@_dry_run_option
@click.pass_context
def start(ctx, names, all_, dry_run):
    """Start machines."""
    creature = api(ctx)
    if dry_run:
        return _planeach(creature, targets(creature, names, all_, WANT["start"]), "start")
    return act(creature, "start", names, all_)


def _timeout_option(f):
    return click.option("--timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
                        help="Seconds to wait for a graceful shutdown before forcing.")(f)


@click.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every running machine.")
@_timeout_option
@_dry_run_option
@click.pass_context
def stop(ctx, names, all_, timeout, dry_run):
    """Stop machines gracefully, forcing them after the timeout."""
    creature = api(ctx)
    if dry_run:
        return _planeach(creature, targets(creature, names, all_, WANT["stop"]), "stop")
    return act(creature, "stop", names, all_, timeout=timeout)


@click.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every running machine.")
@_timeout_option
@click.pass_context
def restart(ctx, names, all_, timeout):
    """Stop then start machines."""
    creature = api(ctx)
    return each(targets(creature, names, all_, WANT["stop"]), lambda n: creature.restart(n, timeout))


@click.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every running machine.")
@_dry_run_option
@click.pass_context
def kill(ctx, names, all_, dry_run):
    """End machines at once."""
    creature = api(ctx)
    if dry_run:
        return _planeach(creature, targets(creature, names, all_, WANT["kill"]), "kill")
    return act(creature, "kill", names, all_)


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Kill a machine first if it runs.")
@_dry_run_option
@click.pass_context
def destroy(ctx, names, force, dry_run):
    """Remove machines and their files (no --all: name each one)."""
    creature = api(ctx)
    if dry_run:
        return _planeach(creature, targets(creature, tuple(dict.fromkeys(names)), False, set()), "destroy")
    return act(creature, "destroy", names, force=force)


@click.command("exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("name")
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def exec_(ctx, name, argv):
    """Run a command in a running machine: creature exec NAME -- CMD..."""
    argv = list(argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    return api(ctx).exec(name, argv)


@click.command()
@click.argument("name")
@click.pass_context
def console(ctx, name):
    """Attach to a machine's console."""
    return api(ctx).console(name)


def _all_hosts(ctx, **filters) -> tuple[list[dict], list[str]]:
    """Rows of this host's machines and every other host's (creature_host_names), and a warning per unreachable host.

    An unreachable host contributes a single row with state 'unreachable' and the reason in 'note'.
    """
    from creature.api import Creature
    from creature.home import Home
    from creature.plugins import get_plugins

    home = Home(ctx.find_root().obj.get("home"))
    plugins = get_plugins()
    names = [name for answer in plugins.call("creature_host_names", home=home) for name in answer or []]
    rows: list[dict] = []
    warnings: list[str] = []
    for name in ["local", *names]:
        try:
            creature = Creature(home) if name == "local" else plugins.call("creature_host_api", home=home, host=name)
            try:
                if name != "local":
                    _reach(creature)
                rows += [{"host": name, **info.to_dict()} for info in creature.list_machines(**filters)]
            finally:
                creature.inventory.close()
        except CreatureError as exc:
            if name == "local":  # bad filters fail here first; only other hosts degrade to a warning
                raise
            warnings.append(f"host {name} is unreachable: {exc}")
            rows.append({"host": name, "name": "-", "driver": "", "state": "unreachable", "autostart": False,
                         "template": "", "cpus": 0, "memory": 0, "macs": [], "ips": [], "note": str(exc)})
    return rows, warnings


def _reach(creature) -> None:
    """Ask each driver in use on another host (or its default driver) whether the host answers (capability remote)."""
    names = {m.driver for m in creature.inventory.machines()}
    if not names:
        try:
            names = {creature.default_driver()}
        except CreatureError:
            return
    for name in sorted(names):
        driver = creature.driver(name)
        if driver.capabilities.remote:
            driver.reach()
