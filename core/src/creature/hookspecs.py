"""Every hook a creature plugin may implement. Hooks only ever gain arguments; an implementation may take fewer.

creature's own features (creature.builtin) implement these exactly as a third-party plugin would.
"""

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
def creature_add_commands(cli):
    """Add click commands or groups to the `creature` command line (called only for a name the core lacks, or --help)."""


@hookspec
def creature_check_host(report):
    """Add host checks to `creature host check`: report.add(section, name, ok, reason)."""


@hookspec(firstresult=True)
def creature_assign_nics(api, spec, driver):
    """Return spec with each NIC's network checked and its MAC and IP filled in, for a machine being created.

    driver gives the MAC prefix (driver.mac_prefix, driver.mac_max4). Called while the NIC allocation lock is
    held and before anything is written; a dry run calls it too, so it must only read. None: not mine.
    """


@hookspec
def creature_prepare_start(api, machine):
    """Make what a machine needs before its driver starts it (its networks' bridges and DHCP, say)."""


@hookspec
def creature_machine_event(api, machine, event):
    """Told after a machine was created, started, stopped, killed, destroyed, migrated or failed-over (that word)."""


@hookspec
def creature_machine_addresses(api, machines):
    """Return {machine name: [Address, ...]} for running machines whose addresses this plugin can see."""


@hookspec(firstresult=True)
def creature_host_api(home, host):
    """Return the API (a creature.api.Creature) for the machines of host NAME (`--host NAME`); None: not mine."""


@hookspec
def creature_host_names(home):
    """Return the names of the other hosts this plugin knows of (`creature list --all-hosts` lists them too)."""
