"""The one module creature plugins import: drivers, bootstrap methods, hooks, records and the helpers they share.

Every name is imported from where it lives only when a plugin first uses it, so `from creature.sdk
import hookimpl` in a plugin's entry-point module costs nothing more than that. A test keeps plugins
from importing any other creature module (tests may also use creature.testing).
"""

from __future__ import annotations

import importlib

_NAMES = {
    # hooks
    "hookimpl": "creature.hookspecs",
    # drivers
    "Driver": "creature.drivers", "Capabilities": "creature.drivers", "Check": "creature.drivers",
    "Probe": "creature.drivers", "StopResult": "creature.drivers", "require": "creature.drivers",
    "PlannedDriver": "creature.builtin.support.planned", "tool": "creature.builtin.support.planned", "tool_check": "creature.builtin.support.planned",
    "path_check": "creature.builtin.support.planned", "stable_id": "creature.builtin.support.planned", "links_to": "creature.builtin.support.planned",
    # errors
    "CreatureError": "creature.errors", "InputError": "creature.errors", "NotFound": "creature.errors",
    "CommandFailed": "creature.errors", "one_line": "creature.model",
    # records (what the inventory holds) and states
    "Machine": "creature.records", "MachineSpec": "creature.records", "Nic": "creature.records",
    "Template": "creature.records", "TemplateMeta": "creature.records", "Network": "creature.records",
    "Address": "creature.records", "MachineData": "creature.records", "State": "creature.state",
    "Record": "creature.records", "record_field": "creature.records",
    # the host, processes, files
    "HostFacts": "creature.host", "run": "creature.procs", "which": "creature.procs", "ProcessRecord": "creature.procs",
    "Home": "creature.home", "write_private": "creature.home", "write_atomic": "creature.home",
    "shared_cache": "creature.home", "file_lock": "creature.home",
    "netns_argv": "creature.builtin.networks.netns", "netns_of": "creature.builtin.networks.netns", "derived_mac": "creature.builtin.networks.macs",
    "emit": "creature.builtin.support.output", "status": "creature.builtin.support.output", "known_tools": "creature.builtin.support.facts",
    "remembered": "creature.builtin.support.facts",
    # templates and bootstrap methods
    "Bootstrapper": "creature.templates", "disk_image": "creature.builtin.support.images", "remove_tree": "creature.templates",
    "tree_size": "creature.templates", "boot_files": "creature.builtin.support.images",
    "host_mirror": "creature.builtin.bootstrap.debootstrap",
    # disks of a fixed size (--disk) and growing them (resize)
    **dict.fromkeys(("ext4_image", "grow_ext4", "grow_qcow2", "qcow2_size", "check_growth"), "creature.builtin.support.disks"),
    # usage of running machines as the host sees it (Driver.stats)
    **dict.fromkeys(("MachineStats", "NicStats", "cgroup_usage", "process_cpu", "process_rss", "process_groups", "children",
                     "net_dev", "host_side", "guest_side", "fs_usage", "allocated"), "creature.builtin.support.usage"),
    # guests: configuration of a container's rootfs, initramfs for kernel-booted VMs, kernel images, NoCloud
    "adjust_guest": "creature.builtin.guest.adjust", "Access": "creature.builtin.guest.adjust",
    "init_script": "creature.builtin.guest.initramfs", "base_entries": "creature.builtin.guest.initramfs",
    "cpio_archive": "creature.builtin.guest.initramfs", "host_busybox": "creature.builtin.guest.initramfs",
    "HANDOVER": "creature.builtin.guest.initramfs", "ACPI_WORD": "creature.builtin.guest.initramfs",
    "ACPI_HANDOVER": "creature.builtin.guest.initramfs", "initramfs_key": "creature.builtin.guest.initramfs",
    "module_order": "creature.builtin.guest.initramfs",
    "vmlinux_file": "creature.builtin.guest.kernel_image", "is_bzimage": "creature.builtin.guest.kernel_image",
    "write_access": "creature.builtin.guest.access", "boot_initramfs": "creature.builtin.guest.access",
    "make_seed": "creature.builtin.guest.nocloud", "NoCloud": "creature.builtin.guest.nocloud",
    # exec through a guest agent (qemu-ga's protocol): creature's own agent in the initramfs, or the guest's qemu-ga
    "FifoChannel": "creature.builtin.guest.qga", "guest_exec": "creature.builtin.guest.qga",
    "AgentUnavailable": "creature.builtin.guest.qga", "AgentError": "creature.builtin.guest.qga",
    "agent_result": "creature.builtin.guest.qga", "AGENT_PORT": "creature.builtin.guest.qga",
    # NICs on creature networks
    "tap_name": "creature.builtin.networks.vmnics", "create_taps": "creature.builtin.networks.vmnics",
    "remove_taps": "creature.builtin.networks.vmnics", "taps_plan": "creature.builtin.networks.vmnics",
    "guest_cmdline": "creature.builtin.networks.vmnics", "machine_netns": "creature.builtin.networks.vmnics",
    "bridge_for": "creature.builtin.networks.vmnics", "guest_nics": "creature.builtin.networks.vmnics",
    # snapshots kept as files
    "CopySnapshots": "creature.builtin.snapshots.files", "copy_into": "creature.builtin.snapshots.files",
    "swap_in": "creature.builtin.snapshots.files", "exchange": "creature.builtin.snapshots.files",
    # other hosts
    "host_uri": "creature.builtin.remote.hosts", "HostAccess": "creature.builtin.remote.hosts",
}
# where a name differs from the name in its module
_ALIASES = {"known_tools": "tools", "adjust_guest": "adjust", "cpio_archive": "archive", "netns_argv": "enter_argv",
            "netns_of": "of_pid", "agent_result": "result", "record_field": "field"}


def __getattr__(name: str):
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"creature.sdk has no {name!r}")
    value = getattr(importlib.import_module(module), _ALIASES.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(_NAMES)


__all__ = sorted(_NAMES)
