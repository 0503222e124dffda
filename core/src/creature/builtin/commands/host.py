"""`creature plugins` (what is installed) and the `host` group, whose subcommands plugins add (check, up, add, ...)."""

from __future__ import annotations

import click

from creature.cli import FORMAT, LazyGroup, api


@click.command()
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def plugins(ctx, fmt):
    """Installed plugins, their drivers, and plugins that failed to load."""
    from creature.builtin.support.output import emit

    creature = api(ctx)
    p = creature.plugins
    p.load_all()
    drivers: dict[str, list[str]] = {}
    for name, entry in creature.registry:
        drivers.setdefault(entry.distribution, []).append(name)
    methods: dict[str, list[str]] = {}
    for plugin, function in p.each("creature_register_bootstrappers"):
        function(register=lambda cls, _p=plugin: methods.setdefault(_p, []).append(cls.name))
    rows = []
    for name in [*sorted(p.builtins), *sorted(p.loaded)]:
        dist = p.distribution_of(name)
        rows.append({"name": name, "distribution": dist, "version": p.version_of(name), "status": "loaded",
                     "drivers": drivers.get(dist, []) if name not in p.builtins else [],
                     "methods": sorted(methods.get(name, [])), "error": None})
    for f in p.failures:
        rows.append({"name": f.name, "distribution": f.distribution, "version": p.version_of(f.name), "status": "failed",
                     "drivers": [], "methods": [], "error": f.error})
    for name in sorted(p.disabled):
        rows.append({"name": name, "distribution": p.distribution_of(name), "version": p.version_of(name),
                     "status": "disabled", "drivers": [], "methods": [], "error": None})
    emit(rows, ["name", "distribution", "version", "status", "drivers", "methods", "error"], fmt)


@click.group(cls=LazyGroup)
def host():
    """This host: checks, bringing machines up at boot and down at shutdown, the boot service, other hosts."""
