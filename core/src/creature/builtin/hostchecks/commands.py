"""`creature host check`: kernel features (creature_check_host) and, for every driver, whether it is usable here and why."""

from __future__ import annotations

import click

from creature.cli import FORMAT, api


@click.command("check")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def host_check(ctx, fmt):
    """Kernel features, and for every driver whether it is usable here and why."""
    from creature.builtin.support.output import emit
    from creature.host import HostReport

    creature = api(ctx)
    report = HostReport()
    creature.plugins.hook.creature_check_host(report=report)
    drivers = {}
    # on another host only the drivers that reach it are asked
    reach = creature.remote_drivers() if ctx.find_root().obj.get("host") not in (None, "local") else None
    for name, entry in creature.registry:
        if reach is not None and name not in reach:
            continue
        probe = creature.probe(name)
        drivers[name] = {"usable": probe.usable, "distribution": entry.distribution, "priority": entry.cls.priority,
                         "checks": [c.to_dict() for c in probe.checks]}
    failures = [f._asdict() for f in creature.plugins.failures]
    rows = [{"section": s, "name": c.name, "ok": c.ok, "reason": c.reason} for s, cs in report.sections.items() for c in cs]
    for name, d in drivers.items():
        rows.append({"section": f"driver {name}", "name": "usable", "ok": d["usable"], "reason": "" if d["usable"] else "see checks below"})
        rows += [{"section": f"driver {name}", **c} for c in d["checks"]]
    rows += [{"section": "plugins", "name": f["name"], "ok": False, "reason": f"failed to load: {f['error']}"} for f in failures]
    document = {"kernel_release": creature.host.kernel_release,
                "sections": {s: [c.to_dict() for c in cs] for s, cs in report.sections.items()},
                "drivers": drivers, "plugin_failures": failures}
    emit(rows, ["section", "name", "ok", "reason"], fmt, document)
