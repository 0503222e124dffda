"""creature's own features, each a plugin of creature's hooks registered like any other (pytest's default_plugins).

Besides the plugins, builtin/guest holds the guest-side helpers drivers share (through creature.sdk):
configuring a container's rootfs, the initramfs of kernel-booted VMs, kernel images, NoCloud seeds.
"""

# name -> the hooks it implements (a test keeps this true), so that calling a hook imports only its implementers
DEFAULT_PLUGINS = {
    "creature.builtin.commands.plugin": ("creature_add_commands",),
    "creature.builtin.bootstrap.plugin": ("creature_register_bootstrappers",),
    "creature.builtin.networks.plugin": ("creature_add_commands", "creature_assign_nics", "creature_prepare_start",
                                  "creature_machine_event", "creature_machine_addresses"),
    "creature.builtin.hostchecks.plugin": ("creature_add_commands", "creature_check_host"),
    "creature.builtin.autostart.plugin": ("creature_add_commands",),
    "creature.builtin.remote.plugin": ("creature_add_commands", "creature_host_api", "creature_host_names"),
    "creature.builtin.doctor.plugin": ("creature_add_commands",),
    "creature.builtin.ssh.plugin": ("creature_add_commands",),
    "creature.builtin.snapshots.plugin": ("creature_add_commands",),
    "creature.builtin.cluster.plugin": ("creature_add_commands",),
    "creature.builtin.disks.plugin": ("creature_add_commands",),
    "creature.builtin.stats.plugin": ("creature_add_commands",),
}

# (plugin, hook) -> (argument, values): a builtin hook that does something only when that argument has one of these
# values, so that a call with another value imports neither the plugin nor pluggy (a test keeps this true)
ONLY_WHEN = {("creature.builtin.networks.plugin", "creature_machine_event"): ("event", frozenset({"created", "destroyed"}))}

# the root commands creature's own plugins add ("module:attribute"): the command line finds one by name without
# calling creature_add_commands (a test keeps this equal to what the hook adds)
COMMANDS = {
    **{name: f"creature.builtin.commands.machines:{attr}" for name, attr in (
        ("create", "create"), ("list", "list_"), ("show", "show"), ("start", "start"), ("stop", "stop"),
        ("restart", "restart"), ("kill", "kill"), ("destroy", "destroy"), ("exec", "exec_"), ("console", "console"))},
    "template": "creature.builtin.commands.templates:template",
    "host": "creature.builtin.commands.host:host",
    "plugins": "creature.builtin.commands.host:plugins",
}
