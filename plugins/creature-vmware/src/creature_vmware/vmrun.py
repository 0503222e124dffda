"""Parsing what vmrun prints."""

from __future__ import annotations

from pathlib import Path


def parse_vmrun_list(text: str) -> list[Path]:
    """The .vmx paths of running VMs from `vmrun list` ("Total running VMs: N", then one path a line)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("Total running VMs:"):
        raise ValueError(f"unexpected `vmrun list` output: {text[:80]!r}")
    count = int(lines[0].split(":", 1)[1])
    paths = [Path(line) for line in lines[1:]]
    if len(paths) != count:
        raise ValueError(f"`vmrun list` announced {count} VMs but listed {len(paths)}")
    return paths
