"""The `creature` command line: thin click commands over creature.api."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from creature.errors import CreatureError, InputError

FORMAT = click.Choice(["table", "json", "csv"])
LIST_COLUMNS = ["name", "driver", "state", "autostart", "template", "cpus", "memory", "macs", "ips"]
_debug = False


def api(ctx: click.Context):
    """The Creature object of this invocation, made on first use (so --help stays fast)."""
    obj = ctx.find_root().obj
    if obj.get("api") is None:
        from creature.api import Creature

        obj["api"] = Creature(obj.get("home"))
    return obj["api"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="CREATURE_HOME",
              help="creature home (default: /var/lib/creature for root).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="creature", prog_name="creature")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, debug: bool):
    """Create, start, stop and list machines on every Linux hypervisor."""
    global _debug
    _debug = debug
    ctx.obj = {"home": home}


@cli.command()
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def plugins(ctx, fmt):
    """Installed plugins, their drivers, and plugins that failed to load."""
    from creature.output import emit

    creature = api(ctx)
    p = creature.plugins
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
    """This host: checks (and, later, bringing machines up and down)."""


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
    for name, entry in creature.registry:
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
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def doctor(ctx, fix, fmt):
    """Find leftovers of interrupted operations (and remove them with --fix)."""
    from creature.output import emit, status

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
@click.option("--method", required=True, help="Bootstrap method (busybox, ...).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Method option (repeatable).")
@click.pass_context
def template_build(ctx, name, method, options):
    """Build template NAME with a bootstrap method."""
    parsed = {}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--option wants KEY=VALUE, got {item!r}")
        parsed[key] = value
    t = api(ctx).templates.build(name, method, parsed)
    click.echo(f"template {t.name} built ({t.method}, {t.size // 1024} KiB)")


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


@cli.command()
@click.argument("name", required=False)
@click.option("-f", "--file", "file", type=click.Path(dir_okay=False, path_type=Path), help="Machine spec (TOML).")
@click.option("--driver", help="Driver (default: CREATURE_DRIVER, config, best usable).")
@click.option("--template", help="Template to clone.")
@click.option("--cpus", type=int)
@click.option("--memory", help="Memory, like 512M or 2G.")
@click.option("--autostart/--no-autostart", default=None, help="Start at `creature host up`.")
@click.pass_context
def create(ctx, name, file, driver, template, cpus, memory, autostart):
    """Create machine NAME from a template."""
    data = _spec_from(file, name, {"driver": driver, "template": template, "cpus": cpus, "memory": memory, "autostart": autostart})
    if "template" not in data:
        raise InputError("a machine needs a template: --template NAME (see `creature template list`)")
    info = api(ctx).create(data)
    click.echo(f"machine {info.name} created ({info.driver}, from {info.template}, clone: {info.clone or 'none'})")


@cli.command("list")
@click.option("--driver")
@click.option("--state")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def list_(ctx, driver, state, fmt):
    """Machines with their state, MACs and IPs."""
    from creature.output import emit

    infos = api(ctx).list_machines(driver=driver, state=state)
    emit([{c: getattr(i, c) for c in LIST_COLUMNS} | {"state": i.state.value} for i in infos], LIST_COLUMNS, fmt)


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
@click.pass_context
def start(ctx, names, all_):
    """Start machines."""
    creature = api(ctx)
    return _each(_targets(creature, names, all_, {"stopped", "crashed"}), creature.start)


def _timeout_option(f):
    return click.option("--timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
                        help="Seconds to wait for a graceful shutdown before forcing.")(f)


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every running machine.")
@_timeout_option
@click.pass_context
def stop(ctx, names, all_, timeout):
    """Stop machines gracefully, forcing them after the timeout."""
    creature = api(ctx)

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
@click.pass_context
def kill(ctx, names, all_):
    """End machines at once."""
    creature = api(ctx)
    return _each(_targets(creature, names, all_, {"running", "paused"}), creature.kill)


@cli.command()
@click.argument("name")
@click.option("--force", is_flag=True, help="Kill the machine first if it runs.")
@click.pass_context
def destroy(ctx, name, force):
    """Remove a machine and its files."""
    api(ctx).destroy(name, force=force)


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


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI, turning every error into one line and an exit code."""
    code = 0
    try:
        from creature.plugins import get_plugins

        get_plugins().hook.creature_add_commands(cli=cli)
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
        if _debug:
            import traceback

            traceback.print_exc()
        click.echo(f"creature: error: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", err=True)
        code = 1
    sys.exit(code)
