"""The .vmx format (VMware's `key = "value"` machine configuration): writer, reader, and the machine's settings."""

from __future__ import annotations

import re
from pathlib import Path

_LINE = re.compile(r'^\s*(?P<key>[A-Za-z0-9_.:\-]+)\s*=\s*"(?P<value>.*)"\s*$')
# VMware escapes a character it cannot keep inside quotes as |XX (its hex code), and | itself as |7C
_ESCAPE = re.compile(r"\|([0-9A-Fa-f]{2})")


def _escape(value: str) -> str:
    return "".join(f"|{ord(c):02X}" if c in '|"#' or ord(c) < 0x20 else c for c in value)


def _unescape(value: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


def write_vmx(settings: dict[str, str]) -> str:
    """.vmx text: .encoding first, then one `key = "value"` line per setting, in order."""
    lines = ['.encoding = "UTF-8"']
    lines += [f'{key} = "{_escape(str(value))}"' for key, value in settings.items() if key != ".encoding"]
    return "\n".join(lines) + "\n"


def read_vmx(text: str) -> dict[str, str]:
    """Settings from .vmx text; keys are case-insensitive in VMware, so they are kept as written and matched lower-cased."""
    settings = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ValueError(f"not a .vmx line: {line!r}")
        settings[match.group("key")] = _unescape(match.group("value"))
    return settings


def machine_settings(name: str, cpus: int, memory: int, vmdk: str, console_log: Path,
                     nics: list[tuple[str, str | None]]) -> dict[str, str]:
    """The .vmx settings of a creature machine: SCSI disk, serial console to a file, static-MAC NICs."""
    settings = {
        "config.version": "8",
        "virtualHW.version": "14",
        "displayName": name,
        "guestOS": "other5xlinux-64",
        "numvcpus": str(cpus),
        "memsize": str(memory),
        "scsi0.present": "TRUE",
        "scsi0.virtualDev": "lsilogic",
        "scsi0:0.present": "TRUE",
        "scsi0:0.fileName": vmdk,
        "serial0.present": "TRUE",
        "serial0.fileType": "file",
        "serial0.fileName": str(console_log),
    }
    for i, (mac, network) in enumerate(nics):
        settings |= {
            f"ethernet{i}.present": "TRUE",
            f"ethernet{i}.virtualDev": "vmxnet3",
            # "custom" plugs the NIC into the named vmnet; "bridged" into the host's default bridge
            f"ethernet{i}.connectionType": "custom" if network else "bridged",
            **({f"ethernet{i}.vnet": network} if network else {}),
            f"ethernet{i}.addressType": "static",
            f"ethernet{i}.address": mac,
        }
    return settings


def flat_vmdk(extent: str, size_bytes: int) -> str:
    """A monolithicFlat VMDK descriptor whose one extent is a raw image file (VMware's Virtual Disk Format 1.1)."""
    sectors = size_bytes // 512
    cylinders = max(1, min(16383, sectors // (255 * 63)))
    return (
        "# Disk DescriptorFile\n"
        "version=1\n"
        "CID=fffffffe\n"
        "parentCID=ffffffff\n"
        'createType="monolithicFlat"\n'
        "\n"
        "# Extent description\n"
        f'RW {sectors} FLAT "{extent}" 0\n'
        "\n"
        "# The Disk Data Base\n"
        'ddb.adapterType = "lsilogic"\n'
        f'ddb.geometry.cylinders = "{cylinders}"\n'
        'ddb.geometry.heads = "255"\n'
        'ddb.geometry.sectors = "63"\n'
        'ddb.virtualHWVersion = "14"\n'
    )
