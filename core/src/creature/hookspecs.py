"""Every hook a creature plugin may implement. Hooks only ever gain arguments."""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("creature")
hookimpl = pluggy.HookimplMarker("creature")


@hookspec
def creature_register_drivers(register):
    """Register drivers: register(DriverClass), or register("module:Class", name="x") to import it only when used.

    Optional states="module:function" gives a lean bulk state function for `creature list` (see DriverRegistry).
    """


@hookspec
def creature_register_bootstrappers(register):
    """Register template build methods: call register(BootstrapperClass) once for each."""


@hookspec
def creature_check_host(report):
    """Add host checks: report.add(section, name, ok, reason)."""


@hookspec
def creature_network_attach(machine, nic, network):
    """Attach a machine's NIC to a creature network (called before the machine starts)."""


@hookspec
def creature_network_detach(machine, nic, network):
    """Detach a machine's NIC from a creature network (called after it stops)."""


@hookspec
def creature_machine_event(machine, event):
    """Told after a machine is created, started, stopped, killed, destroyed, migrated or failed-over."""


@hookspec
def creature_add_commands(cli):
    """Add click commands or groups to the `creature` command line."""
