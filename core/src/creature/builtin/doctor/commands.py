"""`creature doctor`: find (and with --fix remove) leftovers, or rebuild a damaged inventory."""

from __future__ import annotations

import click

from creature.builtin.doctor.repair import find_leftovers, rebuild_inventory


@click.command()
@click.option("--fix", is_flag=True, help="Remove the leftovers found.")
@click.option("--rebuild", is_flag=True, help="Move a damaged inventory aside and rebuild it from the machine folders.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.pass_context
def doctor(ctx, fix, rebuild, fmt):
    """Find leftovers of interrupted operations (and remove them with --fix)."""
    from creature.builtin.support.output import emit, status
    from creature.cli import api

    if rebuild:
        done = rebuild_inventory(api(ctx))
        status(f"inventory rebuilt: {len(done['templates'])} template(s), {len(done['machines'])} machine(s)"
               + (f"; old file moved to {done['moved_aside']}" if done["moved_aside"] else ""))
        for line in done["skipped"]:
            status(f"skipped {line}")
    problems = find_leftovers(api(ctx), fix=fix)
    emit(problems, ["kind", "path", "problem", "fixed"], fmt)
    if fmt == "table":
        status(f"{len(problems)} problem(s) found" + (f", {sum(p['fixed'] for p in problems)} fixed" if fix else ""))
    return 1 if any(not p["fixed"] for p in problems) else 0

