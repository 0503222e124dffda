"""`creature ssh NAME [-- CMD...]`: thin click over creature.builtin.ssh.client."""

from __future__ import annotations

import click


@click.command("ssh", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--timeout", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="Seconds to wait for the machine to have an address.")
@click.argument("name")
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def ssh(ctx, timeout, name, argv):
    """Log in to a machine as root over SSH, or run a command there: creature ssh NAME [-- CMD...]

    Uses the key the machine was created with (--ssh-key FILE.pub: FILE) or the home's, and checks the
    guest's host key against the one recorded at the first login. The exit status is the command's.
    """
    from creature.builtin.ssh.client import ssh as run_ssh
    from creature.cli import api

    argv = list(argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    return run_ssh(api(ctx), name, argv, timeout)
