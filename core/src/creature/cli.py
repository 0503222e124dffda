"""The `creature` command line: thin click commands over creature.api."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from creature.cli_cluster import failover, migrate
from creature.cli_hosts import host_add, host_list, host_rm, key_values
from creature.cli_network import network_group, nic_options, wait_ip
from creature.errors import CreatureError, InputError
from creature.listing import COLUMNS as LIST_COLUMNS

FORMAT = click.Choice(["table", "json", "csv"])
_debug = False


def api(ctx: click.Context):
    """The Creature object of this invocation, made on first use (so --help stays fast)."""
    obj = ctx.find_root().obj
    if obj.get("api") is None:
        from creature.remote import creature_for

        obj["api"] = creature_for(obj.get("home"), obj.get("host"))
    return obj["api"]


class _Root(click.Group):
    """The root command: plugins' commands (creature_add_commands) are added only when a name is not the core's.

    So `creature list` and `creature start` import no plugin for commands, and a plugin cannot shadow a core command.
    """

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if not self._plugins_added:
            self._plugins_added = True
            from creature.plugins import get_plugins

            get_plugins().call("creature_add_commands", cli=self)

    def get_command(self, ctx, name):
        found = super().get_command(ctx, name)
        if found is None:
            self._add_plugin_commands()
            found = super().get_command(ctx, name)
        return found

    def list_commands(self, ctx):
        self._add_plugin_commands()
        return super().list_commands(ctx)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="CREATURE_HOME",
              help="creature home (default: /var/lib/creature for root).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option("--host", "on_host", envvar="CREATURE_HOST", metavar="NAME",
              help="Work on the machines of a remote host (see `creature host add`).")
@click.version_option(package_name="creature", prog_name="creature")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, debug: bool, on_host: str | None):
    """Create, start, stop and list machines on every Linux hypervisor."""
    global _debug
    _debug = debug
    ctx.obj = {"home": home, "host": on_host}


@cli.command()
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def plugins(ctx, fmt):
    """Installed plugins, their drivers, and plugins that failed to load."""
    from creature.output import emit

    creature = api(ctx)
    p = creature.plugins
    p.load_all()
    drivers: dict[str, list[str]] = {}
    for name, entry in creature.registry:
        drivers.setdefault(entry.distribution, []).append(name)
    methods: dict[str, list[str]] = {}
    for method, cls in creature.bootstrappers().items():
        methods.setdefault(cls.__module__.split(".")[0], []).append(method)
    rows = []
    for name in ["creature.builtin", *sorted(p.loaded)]:
        dist = p.distribution_of(name)
        rows.append({"name": name, "distribution": dist, "version": p.version_of(name), "status": "loaded",
                     "drivers": drivers.get(dist, []), "methods": methods.get(name.split(".")[0] if name == "creature.builtin" else p.loaded[name].__name__.split(".")[0], []),
                     "error": None})
    for f in p.failures:
        rows.append({"name": f.name, "distribution": f.distribution, "version": p.version_of(f.name), "status": "failed",
                     "drivers": [], "methods": [], "error": f.error})
    for name in sorted(p.disabled):
        rows.append({"name": name, "distribution": p.distribution_of(name), "version": p.version_of(name),
                     "status": "disabled", "drivers": [], "methods": [], "error": None})
    emit(rows, ["name", "distribution", "version", "status", "drivers", "methods", "error"], fmt)


@cli.group()
def host():
    """This host: checks, bringing machines up at boot and down at shutdown, the boot service."""


@host.command("check")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def host_check(ctx, fmt):
    """Kernel features, and for every driver whether it is usable here and why."""
    from creature.host import HostReport, kernel_checks
    from creature.output import emit

    creature = api(ctx)
    report = HostReport()
    report.sections["kernel"] = kernel_checks(creature.host)
    creature.plugins.hook.creature_check_host(report=report)
    drivers = {}
    remote = ctx.find_root().obj.get("host") not in (None, "local")
    for name, entry in creature.registry:
        if remote and not entry.cls.remote:
            continue  # on another host only the drivers that reach it are asked
        probe = creature.probe(name)
        drivers[name] = {"usable": probe.usable, "distribution": entry.distribution, "priority": entry.cls.priority,
                         "checks": [c.model_dump() for c in probe.checks]}
    failures = [vars(f) for f in creature.plugins.failures]
    rows = [{"section": s, "name": c.name, "ok": c.ok, "reason": c.reason} for s, cs in report.sections.items() for c in cs]
    for name, d in drivers.items():
        rows.append({"section": f"driver {name}", "name": "usable", "ok": d["usable"], "reason": "" if d["usable"] else "see checks below"})
        rows += [{"section": f"driver {name}", **c} for c in d["checks"]]
    rows += [{"section": "plugins", "name": f["name"], "ok": False, "reason": f"failed to load: {f['error']}"} for f in failures]
    document = {"kernel_release": creature.host.kernel_release,
                "sections": {s: [c.model_dump() for c in cs] for s, cs in report.sections.items()},
                "drivers": drivers, "plugin_failures": failures}
    emit(rows, ["section", "name", "ok", "reason"], fmt, document)


@cli.command()
@click.option("--fix", is_flag=True, help="Remove the leftovers found.")
@click.option("--rebuild", is_flag=True, help="Move a damaged inventory aside and rebuild it from the machine folders.")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def doctor(ctx, fix, rebuild, fmt):
    """Find leftovers of interrupted operations (and remove them with --fix)."""
    from creature.output import emit, status

    if rebuild:
        done = api(ctx).rebuild_inventory()
        status(f"inventory rebuilt: {len(done['templates'])} template(s), {len(done['machines'])} machine(s)"
               + (f"; old file moved to {done['moved_aside']}" if done["moved_aside"] else ""))
        for line in done["skipped"]:
            status(f"skipped {line}")
    problems = api(ctx).doctor(fix=fix)
    emit(problems, ["kind", "path", "problem", "fixed"], fmt)
    if fmt == "table":
        status(f"{len(problems)} problem(s) found" + (f", {sum(p['fixed'] for p in problems)} fixed" if fix else ""))
    return 1 if any(not p["fixed"] for p in problems) else 0


@cli.group()
def template():
    """Build, list and remove templates."""


@template.command("build")
@click.argument("name")
@click.option("--method", required=True, help="Bootstrap method (busybox, debootstrap, tarball, or a plugin's).")
@click.option("--suite", help="debootstrap: Debian suite, like bookworm.")
@click.option("--variant", help="debootstrap: variant (default minbase).")
@click.option("--include", metavar="PKG,...", help="debootstrap: extra packages (an init package replaces sysvinit-core).")
@click.option("--mirror", metavar="URL", help="debootstrap: mirror (default: the one apt on this host uses).")
@click.option("--from", "from_", metavar="FILE", help="tarball: the root filesystem tarball to import.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Method option (repeatable).")
@click.pass_context
def template_build(ctx, name, method, suite, variant, include, mirror, from_, options):
    """Build template NAME with a bootstrap method."""
    parsed = key_values(options)
    given = {"suite": suite, "variant": variant, "include": include, "mirror": mirror, "from": from_}
    parsed.update({k: v for k, v in given.items() if v is not None})
    t = api(ctx).templates.build(name, method, parsed)
    cache = f", cache: {t.meta['cache_hit']}" if "cache_hit" in t.meta else ""
    click.echo(f"template {t.name} built ({t.method}, {t.size // (1024 * 1024)} MiB{cache})")


@template.command("list")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def template_list(ctx, fmt):
    """Templates, their method, size and the machines using them."""
    import datetime

    from creature.output import emit

    creature = api(ctx)
    rows = []
    for t in creature.templates.list():
        rows.append({"name": t.name, "method": t.method, "os": t.meta.get("os"), "suite": t.options.get("suite"),
                     "size": t.size, "created": datetime.datetime.fromtimestamp(t.created).isoformat(timespec="seconds"),
                     "machines": creature.inventory.users_of_template(t.name), "path": str(t.path)})
    emit(rows, ["name", "method", "os", "suite", "size", "created", "machines"], fmt)


@template.command("rm")
@click.argument("name")
@click.pass_context
def template_rm(ctx, name):
    """Remove a template no machine uses."""
    api(ctx).templates.remove(name)


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


def _plan_each(creature, names: list[str], action: str) -> int:
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


def _autostart_options(f):
    f = click.option("--delay", type=click.FloatRange(0, 3600), help="Seconds `host up` waits after starting it before the next order.")(f)
    return click.option("--order", type=click.IntRange(0, 1000), help="Autostart order: lower starts first, stops last.")(f)


@cli.command()
@click.argument("name", required=False)
@click.option("-f", "--file", "file", type=click.Path(dir_okay=False, path_type=Path), help="Machine spec (TOML).")
@click.option("--driver", help="Driver (default: CREATURE_DRIVER, config, best usable).")
@click.option("--template", help="Template to clone.")
@click.option("--cpus", type=int)
@click.option("--memory", help="Memory, like 512M or 2G.")
@click.option("--autostart/--no-autostart", default=None, help="Start at `creature host up`.")
@_autostart_options
@click.option("--ssh-key", type=click.Path(dir_okay=False, path_type=Path), help="SSH public key file for root's authorized_keys.")
@click.option("--root-password", envvar="CREATURE_ROOT_PASSWORD", help="Root password (stored only as a hash, in the guest).")
@click.option("--cloud-init", type=click.Path(dir_okay=False, path_type=Path), help="cloud-init user-data: makes a NoCloud seed for VM drivers.")
@click.option("--node", help="Cluster node to place it on (default: the cluster's allocator chooses).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Driver option (repeatable), like disk_size=2G for ganeti.")
@_dry_run_option
@nic_options
@click.pass_context
def create(ctx, name, file, driver, template, cpus, memory, autostart, order, delay, ssh_key, root_password, cloud_init, node,
           options, dry_run, nics):
    """Create machine NAME from a template."""
    data = _spec_from(file, name, {"driver": driver, "template": template, "cpus": cpus, "memory": memory, "autostart": autostart,
                                   "autostart_order": order, "autostart_delay": delay, "nics": nics, "node": node,
                                   "options": key_values(options) or None})
    if "template" not in data:
        raise InputError("a machine needs a template: --template NAME (see `creature template list`)")
    from creature.guest import Access

    access = Access.of(ssh_key, root_password)
    if dry_run:
        _print_plan(api(ctx).plan_create(data))
        return 0
    info = api(ctx).create(data, access=access, cloud_init=cloud_init)
    click.echo(f"machine {info.name} created ({info.driver}, from {info.template}, clone: {info.clone or 'none'})")


@cli.command("list")
@click.option("--driver")
@click.option("--state")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.option("--all-hosts", is_flag=True, help="Also list every remote host's machines, with a HOST column.")
@click.pass_context
def list_(ctx, driver, state, fmt, all_hosts):
    """Machines with their state, MACs and IPs."""
    from creature.output import emit

    if all_hosts:
        from creature.remote import list_all_hosts

        rows, warnings = list_all_hosts(ctx.find_root().obj.get("home"), driver=driver, state=state)
        for warning in warnings:
            click.echo(f"creature: warning: {warning}", err=True)
        emit(rows, ["host", *_with_node(LIST_COLUMNS, rows)], fmt)
        return
    root = ctx.find_root().obj
    if root.get("host") in (None, "local"):
        from creature.home import Home
        from creature.listing import quick_rows
        from creature.plugins import get_plugins

        rows = quick_rows(Home(root.get("home")).root, get_plugins(), driver=driver, state=state)
        if rows is not None:
            emit(rows, LIST_COLUMNS, fmt)
            return
    from creature.listing import info_row

    infos = api(ctx).list_machines(driver=driver, state=state)
    rows = [info_row(i) | {"node": i.node} for i in infos]
    columns = _with_node(LIST_COLUMNS, rows)
    emit([{c: r[c] for c in columns} for r in rows], columns, fmt)


def _with_node(columns: list[str], rows: list[dict]) -> list[str]:
    """columns with "node" after "state" where a row has one: other listings stay as they were."""
    if not any(r.get("node") for r in rows):
        return columns
    at = columns.index("state") + 1
    return [*columns[:at], "node", *columns[at:]]


@cli.command()
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def show(ctx, name, fmt):
    """Everything about one machine."""
    import json

    info = api(ctx).info(name)
    data = info.model_dump(mode="json")
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        if key == "node" and value is None:
            continue  # only machines on a cluster have one
        if key == "details":
            for detail, text in value.items():
                click.echo(f"{detail + ':':<11} {text}")
            continue
        if key in ("addresses", "nics"):
            value = [" ".join(str(v) for v in item.values() if v is not None) for item in value]
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "-"
        click.echo(f"{key + ':':<11} {value if value not in (None, '') else '-'}")


def _targets(creature, names: tuple[str, ...], all_: bool, want: set[str]) -> list[str]:
    if names and all_:
        raise InputError("give machine names or --all, not both")
    if not names and not all_:
        raise InputError("name at least one machine, or --all")
    if all_:
        return [i.name for i in creature.list_machines() if i.state.value in want]
    for n in names:
        creature.machine(n)  # every name must exist before anything is done
    return list(names)


def _each(names: list[str], action) -> int:
    code = 0
    for n in names:
        try:
            action(n)
        except CreatureError as exc:
            if len(names) == 1:
                raise
            click.echo(f"creature: error: {exc}", err=True)
            code = max(code, exc.exit_code)
    return code


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every stopped machine.")
@_dry_run_option
@click.pass_context
def start(ctx, names, all_, dry_run):
    """Start machines."""
    creature = api(ctx)
    if dry_run:
        return _plan_each(creature, _targets(creature, names, all_, {"stopped", "crashed"}), "start")
    return _each(_targets(creature, names, all_, {"stopped", "crashed"}), creature.start)


def _timeout_option(f):
    return click.option("--timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
                        help="Seconds to wait for a graceful shutdown before forcing.")(f)


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every running machine.")
@_timeout_option
@_dry_run_option
@click.pass_context
def stop(ctx, names, all_, timeout, dry_run):
    """Stop machines gracefully, forcing them after the timeout."""
    creature = api(ctx)
    if dry_run:
        return _plan_each(creature, _targets(creature, names, all_, {"running", "paused"}), "stop")

    def one(n):
        if creature.stop(n, timeout).forced:
            click.echo(f"machine {n} did not shut down within {timeout:g} s and was forced off", err=True)
    return _each(_targets(creature, names, all_, {"running", "paused"}), one)


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every running machine.")
@_timeout_option
@click.pass_context
def restart(ctx, names, all_, timeout):
    """Stop then start machines."""
    creature = api(ctx)
    return _each(_targets(creature, names, all_, {"running", "paused"}), lambda n: creature.restart(n, timeout))


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every running machine.")
@_dry_run_option
@click.pass_context
def kill(ctx, names, all_, dry_run):
    """End machines at once."""
    creature = api(ctx)
    if dry_run:
        return _plan_each(creature, _targets(creature, names, all_, {"running", "paused"}), "kill")
    return _each(_targets(creature, names, all_, {"running", "paused"}), creature.kill)


@cli.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Kill a machine first if it runs.")
@_dry_run_option
@click.pass_context
def destroy(ctx, names, force, dry_run):
    """Remove machines and their files (no --all: name each one)."""
    creature = api(ctx)
    names = _targets(creature, tuple(dict.fromkeys(names)), False, set())  # a mistyped name destroys nothing
    if dry_run:
        return _plan_each(creature, names, "destroy")
    return _each(names, lambda n: creature.destroy(n, force=force))


@cli.command("exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("name")
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def exec_(ctx, name, argv):
    """Run a command in a running machine: creature exec NAME -- CMD..."""
    argv = list(argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    return api(ctx).exec(name, argv)


@cli.command()
@click.argument("name")
@click.pass_context
def console(ctx, name):
    """Attach to a machine's console."""
    return api(ctx).console(name)


@cli.command()
@click.argument("name")
@click.argument("switch", metavar="on|off")
@_autostart_options
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
    from creature.host_progress import TerminalProgress

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


@host.command("up")
@click.option("--restore", is_flag=True, help="Also start the machines that were running at the last `host down`.")
@click.pass_context
def host_up(ctx, restore):
    """Bring up networks, then start autostart machines by ascending order."""
    return _host_report(_this_host(ctx, "up").host_up(restore=restore, progress=_host_progress()))


@host.command("down")
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


@host.command("status")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def host_status(ctx, fmt):
    """Autostart machines and their state; exit 3 (LSB: not running) when one of them is not running."""
    from creature.output import emit

    infos = [i for i in api(ctx).list_machines() if i.autostart]
    specs = {m.name: m.spec for m in api(ctx).inventory.machines()}
    rows = [{"name": i.name, "driver": i.driver, "order": specs[i.name].autostart_order,
             "delay": specs[i.name].autostart_delay, "state": i.state.value} for i in infos]
    rows.sort(key=lambda r: (r["order"], r["name"]))
    emit(rows, ["name", "driver", "order", "delay", "state"], fmt)
    return 0 if all(r["state"] == "running" for r in rows) else 3


@host.command("install-service")
@click.option("--init", type=click.Choice(["systemd", "sysv"]), help="Init system (default: systemd if it runs this host, else sysv).")
@click.option("--timeout", type=click.FloatRange(min=0), default=60.0, show_default=True, help="host down's timeout at shutdown.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the file here instead.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/"), show_default=True,
              help="Install below this folder (for images and tests).")
@click.option("--force", is_flag=True, help="Replace a file creature did not write.")
@click.pass_context
def host_install_service(ctx, init, timeout, output, root, force):
    """Write a systemd unit or sysv init script that runs `host up` at boot and `host down` at shutdown."""
    from creature import service

    init = init or service.default_init()
    path = service.install(init, _this_host(ctx, "install-service").home.root, timeout, output=output, root=root, force=force)
    enable = "systemctl daemon-reload && systemctl enable creature.service" if init == "systemd" else "update-rc.d creature defaults"
    click.echo(f"wrote {path}; enable it with: {enable}")


cli.add_command(network_group)
host.add_command(host_add)
host.add_command(host_list)
host.add_command(host_rm)
cli.add_command(wait_ip)
cli.add_command(migrate)
cli.add_command(failover)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI, turning every error into one line and an exit code."""
    code = 0
    # pydantic scans every installed distribution for its own plugins on first use; the CLI uses none
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        result = cli.main(args=argv, prog_name="creature", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        click.echo(f"creature: error: {exc.format_message()}", err=True)
        code = 2 if isinstance(exc, click.UsageError) else exc.exit_code
    except click.Abort:
        click.echo("creature: error: aborted", err=True)
        code = 1
    except CreatureError as exc:
        if _debug:
            import traceback

            traceback.print_exc()
        click.echo(f"creature: error: {exc}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("creature: error: interrupted", err=True)
        code = 130
    except Exception as exc:  # an internal bug still gets one line; --debug shows where
        import sqlite3

        if _debug:
            import traceback

            traceback.print_exc()
        if isinstance(exc, OSError) and exc.strerror:
            # a full disk or a vanished folder is the host's trouble, not a bug: say what and where
            where = f": {exc.filename}" if exc.filename else ""
            click.echo(f"creature: error: {exc.strerror}{where}", err=True)
        elif isinstance(exc, sqlite3.Error):
            click.echo(f"creature: error: inventory: {exc} (see `creature doctor`)", err=True)
        else:
            click.echo(f"creature: error: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", err=True)
        code = 1
    sys.exit(code)
