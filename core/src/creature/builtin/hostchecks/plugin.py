"""Built-in plugin: the kernel checks of `creature host check`, and that command."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_add_commands(cli):
    from creature.builtin.hostchecks.commands import host_check

    cli.get_command(None, "host").add_command(host_check)


@hookimpl
def creature_check_host(report):
    from creature.builtin.hostchecks.checks import kernel_checks
    from creature.host import HostFacts

    for check in kernel_checks(HostFacts()):
        report.add("kernel", check.name, check.ok, check.reason)
