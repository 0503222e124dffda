"""`creature template build|list|rm`: root filesystems built once, cloned by every machine."""

from __future__ import annotations

import click

from creature.cli import FORMAT, api


@click.group()
def template():
    """Build, list and remove templates."""


class BuildCommand(click.Command):
    """`template build`: besides --method and --option, a flag for each field of every method's options model."""

    def get_params(self, ctx):
        return super().get_params(ctx) + method_flags()


def method_flags() -> list[click.Option]:
    """Flags from the methods' options models (creature.templates.Bootstrapper.options_model), one per name."""
    from creature.plugins import get_plugins
    from creature.templates import bootstrappers

    helps: dict[str, list[str]] = {}
    kinds: dict[str, bool] = {}
    for method, cls in sorted(bootstrappers(get_plugins()).items()):
        model = cls.options_model
        for field_name, field in (model.model_fields.items() if model is not None else ()):
            key = field.alias or field_name
            helps.setdefault(key, []).append(f"{method}: {field.description or key}")
            kinds[key] = kinds.get(key, False) or field.annotation is bool
    return [click.Option([f"--{key.replace('_', '-')}", f"method_{key}"], is_flag=kinds[key], default=None,
                         help="; ".join(helps[key]), expose_value=True)
            for key in sorted(helps)]


@template.command("build", cls=BuildCommand)
@click.argument("name")
@click.option("--method", required=True, help="Bootstrap method (busybox, debootstrap, tarball, or a plugin's).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Method option (repeatable).")
@click.pass_context
def template_build(ctx, name, method, options, **flags):
    """Build template NAME with a bootstrap method (its options: the flags below, or --option KEY=VALUE)."""
    from creature.builtin.commands.options import key_values

    parsed = key_values(options)
    parsed.update({k.removeprefix("method_"): v for k, v in flags.items() if v is not None})
    t = api(ctx).templates.build(name, method, parsed)
    cache = f", cache: {t.meta.cache_hit}" if t.meta.cache_hit else ""
    click.echo(f"template {t.name} built ({t.method}, {t.size // (1024 * 1024)} MiB{cache})")


@template.command("list")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
def template_list(ctx, fmt):
    """Templates, their method, size and the machines using them."""
    import datetime

    from creature.builtin.support.output import emit

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
