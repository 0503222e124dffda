"""VBoxManage: the command plan that defines a creature machine, and parsers for what VBoxManage lists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from creature.sdk import State

CONTROLLER = "SATA"
# VBoxManage list vms / runningvms print one `"name" {uuid}` per line
_LIST_LINE = re.compile(r'^"(?P<name>.*)" \{(?P<uuid>[0-9a-fA-F-]+)\}$')
_STATES = {"running": State.RUNNING, "paused": State.PAUSED, "poweroff": State.STOPPED, "saved": State.STOPPED,
           "aborted": State.CRASHED, "gurumeditation": State.CRASHED}


@dataclass
class VboxNic:
    """One NIC: its MAC (VirtualBox wants 12 hex digits without separators) and the host bridge."""

    mac: str
    bridge: str


@dataclass
class VboxMachine:
    """What VBoxManage is told to build for one machine."""

    name: str
    folder: Path
    cpus: int
    memory: int
    raw_disk: Path
    console_log: Path
    nics: list[VboxNic]

    @property
    def vdi(self) -> Path:
        return self.folder / "disk.vdi"


def define_plan(vboxmanage: str, vm: VboxMachine) -> list[list[str]]:
    """The VBoxManage commands (manual chapter 8) that register vm: createvm, modifyvm, convertfromraw, storage."""
    modify = [vboxmanage, "modifyvm", vm.name, "--cpus", str(vm.cpus), "--memory", str(vm.memory), "--boot1", "disk",
              "--uart1", "0x3F8", "4", "--uartmode1", "file", str(vm.console_log)]
    for i, nic in enumerate(vm.nics, start=1):
        modify += [f"--nic{i}", "bridged", f"--bridgeadapter{i}", nic.bridge, f"--macaddress{i}", nic.mac.replace(":", "").upper()]
    return [
        [vboxmanage, "createvm", "--name", vm.name, "--ostype", "Linux26_64", "--basefolder", str(vm.folder), "--register"],
        modify,
        [vboxmanage, "convertfromraw", str(vm.raw_disk), str(vm.vdi), "--format", "VDI"],
        [vboxmanage, "storagectl", vm.name, "--name", CONTROLLER, "--add", "sata", "--controller", "IntelAhci"],
        [vboxmanage, "storageattach", vm.name, "--storagectl", CONTROLLER, "--port", "0", "--device", "0",
         "--type", "hdd", "--medium", str(vm.vdi)],
    ]


def parse_list(text: str) -> dict[str, str]:
    """Machine names to UUIDs from `VBoxManage list vms` or `list runningvms`."""
    found = {}
    for line in text.splitlines():
        match = _LIST_LINE.match(line.strip())
        if match:
            found[match.group("name")] = match.group("uuid")
    return found


def parse_machinereadable(text: str) -> dict[str, str]:
    """`showvminfo --machinereadable` as a dict: key="value", key=number, "quoted key"="value"."""
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        # a key with characters outside [A-Za-z0-9_] is quoted, like "SATA-0-0"
        key = key.strip()
        if len(key) >= 2 and key[0] == key[-1] == '"':
            key = key[1:-1]
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        info[key] = value
    return info


def state_of(info: dict[str, str]) -> State:
    """A creature State from VMState of showvminfo --machinereadable."""
    return _STATES.get(info.get("VMState", ""), State.UNKNOWN)
