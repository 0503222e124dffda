"""Snapshots of libvirt QEMU domains through libvirt's snapshot API (virDomainSnapshotCreateXML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path


def snapshot_xml(snap: str) -> str:
    """The <domainsnapshot> libvirt is given: only its name (internal snapshots, libvirt's default for qcow2)."""
    root = ET.Element("domainsnapshot")
    ET.SubElement(root, "name").text = snap
    ET.SubElement(root, "description").text = "made by creature"
    return ET.tostring(root, encoding="unicode")


def create(connection, domain, disk: Path, snap: str, running: bool) -> dict:
    """One snapshot named snap; its size is what it added to the domain's qcow2."""
    def used() -> int:
        try:
            return disk.stat().st_blocks * 512
        except OSError:
            return 0  # a remote domain: its disk is on another host
    before = used()
    connection.call("snapshotCreateXML", snapshot_xml(snap), 0, target=domain)
    return {"memory": running, "size": max(0, used() - before)}
