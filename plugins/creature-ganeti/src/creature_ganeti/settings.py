"""A Ganeti cluster as a creature host: what `host add` checks and keeps, and what the driver reads back.

Kept in the host's folder (<home>/hosts/<name>, 0600 each): ganeti.json (URL, user, image folders, OS),
rapi-password (the password alone; never in argv, logs or reprs) and rapi-ca.pem (the cluster's
certificate without its key, when given).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from creature.sdk import CreatureError, InputError

from creature_ganeti.rapi import BadCredentials, Rapi, Unreachable, parse_url

SETTINGS = "ganeti.json"
PASSWORD = "rapi-password"
CA = "rapi-ca.pem"
DEFAULT_OS = "creature+default"
# hypervisors whose instances creature boots from a template (kvm: real guests; fake: Ganeti's control plane only)
HYPERVISORS = ("kvm", "fake")
OPTIONS = {"image_dir": "folder here that the nodes see too (shared storage): template images and boot files go there",
           "node_image_dir": "that folder's path on the nodes (default: the same path)",
           "os": f"the OS definition that copies an image onto an instance's disk (default {DEFAULT_OS})",
           "hypervisor": "the hypervisor of machines created there (default: the cluster's default hypervisor)"}
OS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(\+[A-Za-z0-9_.-]+)?$")
NO_JOB = 2**31 - 1  # a job id no cluster reaches
PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\s*", re.S)


@dataclass
class Cluster:
    """A cluster's settings as `host add` kept them in folder."""

    folder: Path
    url: str
    user: str
    image_dir: Path
    node_image_dir: str
    os: str = DEFAULT_OS
    hypervisor: str | None = None
    _rapi: Rapi | None = field(default=None, repr=False)

    @classmethod
    def of(cls, folder: Path) -> Cluster | None:
        """The cluster whose host folder is folder, or None where `host add --driver ganeti` made none."""
        try:
            data = json.loads((folder / SETTINGS).read_text())
        except (OSError, ValueError):
            return None
        return cls(folder, data["url"], data["user"], Path(data["image_dir"]), data["node_image_dir"],
                   data.get("os", DEFAULT_OS), data.get("hypervisor"))

    @property
    def rapi(self) -> Rapi:
        if self._rapi is None:
            ca = self.folder / CA
            try:
                self._rapi = Rapi.from_files(self.url, self.user, self.folder / PASSWORD, ca if ca.exists() else None)
            except OSError as exc:
                raise CreatureError(f"cannot read the RAPI password of this host ({self.folder / PASSWORD}): {exc.strerror}") from None
        return self._rapi

    def node_path(self, local: Path) -> str:
        """Where the nodes see a file of the image folder."""
        return f"{self.node_image_dir.rstrip('/')}/{local.relative_to(self.image_dir)}"


def certificate_only(pem: bytes) -> bytes:
    """The certificates in pem (Ganeti's rapi.pem holds its private key too, which creature never keeps)."""
    found = b"".join(m.group(0).strip() + b"\n" for m in PEM_CERT.finditer(pem))
    if not found:
        raise InputError("--ca-cert holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    return found


def check_host(url: str, user: str | None, password: str | None, ca: bytes | None, options: dict[str, str]) -> dict[str, str]:
    """Check a cluster's URL, credentials and settings by asking it; the files to keep. Bad ones are InputErrors."""
    parse_url(url)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise InputError(f"ganeti takes no --option {', '.join(unknown)} for a host (known: {', '.join(OPTIONS)})")
    if not user or password is None:
        raise InputError("ganeti needs a RAPI user with write access: --user NAME --password-file FILE (- reads stdin)")
    if "image_dir" not in options:
        raise InputError("ganeti needs --option image_dir=DIR: a folder here that every node sees (shared storage), "
                         "for the template images and boot files (see creature-ganeti's README)")
    image_dir = Path(options["image_dir"]).absolute()
    if not image_dir.is_dir() or not os.access(image_dir, os.W_OK):
        raise InputError(f"image folder {str(image_dir)!r} is not a folder creature can write to")
    node_dir = options.get("node_image_dir", str(image_dir))
    if not node_dir.startswith("/"):
        raise InputError(f"node_image_dir {node_dir!r} must be an absolute path (as the nodes see the folder)")
    os_name = options.get("os", DEFAULT_OS)
    if not OS_RE.match(os_name):
        raise InputError(f"invalid OS name {os_name!r}: NAME or NAME+VARIANT")
    hypervisor = options.get("hypervisor")
    if hypervisor is not None and hypervisor not in HYPERVISORS:
        raise InputError(f"hypervisor {hypervisor!r}: creature drives {' and '.join(HYPERVISORS)} instances")
    cert = certificate_only(ca) if ca is not None else None
    rapi = Rapi(url, user, password, cert)
    try:
        info = rapi.request("GET", "/2/info")
    except (BadCredentials, Unreachable) as exc:
        raise InputError(str(exc)) from None
    if not isinstance(info, dict) or "enabled_hypervisors" not in info:
        raise InputError(f"{url} answered /2/info, but not as a Ganeti cluster does")
    try:
        # a write that changes nothing (cancel a job that does not exist): refused (403) unless the user may write
        rapi.request("DELETE", f"/2/jobs/{NO_JOB}")
    except CreatureError as exc:
        raise InputError(str(exc)) from None
    if hypervisor is not None and hypervisor not in info.get("enabled_hypervisors", []):
        raise InputError(f"hypervisor {hypervisor!r} is not enabled on cluster {info.get('name')} "
                         f"(enabled: {', '.join(info.get('enabled_hypervisors', []))})")
    settings = {"url": url, "user": user, "image_dir": str(image_dir), "node_image_dir": node_dir, "os": os_name,
                "hypervisor": hypervisor, "cluster": info.get("name")}
    files = {SETTINGS: json.dumps(settings, indent=2) + "\n", PASSWORD: password + "\n"}
    if cert is not None:
        files[CA] = cert.decode()
    return files
