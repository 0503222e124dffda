"""Built-in plugin: other hosts (`creature host add|list|rm`), reached with `--host NAME` and `list --all-hosts`."""

from creature.hookspecs import hookimpl


@hookimpl
def creature_add_commands(cli):
    from creature.builtin.remote.commands import host_add, host_list, host_rm

    host = cli.get_command(None, "host")
    for command in (host_add, host_list, host_rm):
        host.add_command(command)


@hookimpl
def creature_host_api(home, host):
    from creature.builtin.remote.hosts import Hosts
    from creature.builtin.remote.remote import RemoteCreature

    hosts = Hosts(home)
    if host not in hosts.names():
        return None
    return RemoteCreature(hosts.home_of(host), host)


@hookimpl
def creature_host_names(home):
    from creature.builtin.remote.hosts import Hosts

    return Hosts(home).names()
