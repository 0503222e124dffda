"""Built-in plugin: creature networks (bridges with a dnsmasq each), NIC addresses, and their commands."""

from creature.hookspecs import hookimpl


def _networks(api):
    return api.networks  # creature.builtin.networks.networks.Networks of the API's home


@hookimpl
def creature_add_commands(cli):
    from creature.builtin.networks.commands import network_group, wait_ip

    cli.add_command(network_group)
    cli.add_command(wait_ip)


@hookimpl
def creature_assign_nics(api, spec, driver):
    return _networks(api).assign(spec, driver.mac_prefix, driver.mac_max4)


@hookimpl
def creature_prepare_start(api, machine):
    for nic in machine.spec.nics:
        _networks(api).up(nic.network)


@hookimpl
def creature_machine_event(api, machine, event):
    # dnsmasq serves reservations from a hosts file: rewrite it when a machine with NICs comes or goes
    if event in ("created", "destroyed"):
        for network in dict.fromkeys(nic.network for nic in machine.spec.nics):
            _networks(api).write_reservations(network)


@hookimpl
def creature_machine_addresses(api, machines):
    with_nics = [m for m in machines if m.spec.nics]
    if not with_nics:
        return {}
    from creature.builtin.networks.addresses import AddressBook

    book = AddressBook(_networks(api))
    return {m.name: book.of(m) for m in with_nics}
