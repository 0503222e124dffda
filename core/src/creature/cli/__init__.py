"""The `creature` command line: the root group, the API of an invocation, and one-line errors.

Every command comes from a plugin through creature_add_commands, creature's own (creature.builtin.commands:
machines, templates, host) like any other. Those of creature's own plugins are also found by name
(creature.builtin.COMMANDS) without calling the hook, so `creature list` imports neither pluggy nor another plugin.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from creature.errors import CreatureError

FORMAT = click.Choice(["table", "json", "csv"])
_debug = False

def api(ctx: click.Context):
    """The Creature object of this invocation, made on first use (so --help stays fast).

    With --host NAME, the plugin that knows that host gives it (creature_host_api, creature.builtin.remote).
    """
    obj = ctx.find_root().obj
    if obj.get("api") is None:
        home, host = obj.get("home"), obj.get("host")
        if host in (None, "local"):
            from creature.api import Creature

            obj["api"] = Creature(home)
        else:
            from creature.home import Home
            from creature.plugins import get_plugins

            found = get_plugins().call("creature_host_api", home=Home(home), host=host)
            if found is None:
                from creature.errors import NotFound

                raise NotFound(f"no host named {host!r} (see `creature host list`)")
            obj["api"] = found
    return obj["api"]


class LazyGroup(click.Group):
    """A group whose subcommands are imported when used: the core's from a name map, plugins' through their hook."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def _import(self, name: str) -> None:
        module, _, attr = self.lazy[name].partition(":")
        self.add_command(getattr(importlib.import_module(module), attr), name)

    def get_command(self, ctx, name):
        if name not in self.commands and name in self.lazy:
            self._import(name)
        if name not in self.commands:
            add_plugin_commands()
        return self.commands.get(name)

    def list_commands(self, ctx):
        for name in self.lazy:
            if name not in self.commands:
                self._import(name)
        add_plugin_commands()
        return sorted(self.commands)


def _builtin_commands() -> dict[str, str]:
    from creature.builtin import COMMANDS

    return COMMANDS


@click.group(cls=LazyGroup, lazy=_builtin_commands(), context_settings={"help_option_names": ["-h", "--help"]})
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


_plugin_commands_added = False


def add_plugin_commands() -> None:
    """Let every plugin add its commands (creature_add_commands), once: to the root, or to a group of it (host)."""
    global _plugin_commands_added
    if not _plugin_commands_added:
        _plugin_commands_added = True
        from creature.plugins import get_plugins

        get_plugins().call("creature_add_commands", cli=cli)


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
        from creature.errors import error_line

        if _debug:
            import traceback

            traceback.print_exc()
        click.echo(f"creature: error: {error_line(exc)}", err=True)
        code = 1
    sys.exit(code)
