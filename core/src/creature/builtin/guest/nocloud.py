"""cloud-init NoCloud data: user-data checked at create, meta-data and network-config, as a seed ISO or a seed folder.

user-data is one of the formats cloud-init acts on that creature checks before anything is made: a
`#cloud-config` YAML mapping, a `#!` script, or a MIME multi-part archive of such parts; anything else would
be ignored by the guest without a word, so create refuses it (exit 2) and says why. VM drivers attach the
seed as an ISO9660 image labelled `cidata` (make_seed); container drivers write the same files under
/var/lib/cloud/seed/nocloud in the rootfs (seed_files), where cloud-init's NoCloud source looks too.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from creature.errors import CreatureError, InputError
from creature.procs import run, which

SEED_NAME = "cloud-init-seed.iso"
SEED_FOLDER = "var/lib/cloud/seed/nocloud"
# MIME part types cloud-init handles (cloudinit/handlers); a part of another type would be dropped
PART_TYPES = {"text/cloud-config", "text/x-shellscript", "text/cloud-boothook", "text/part-handler", "text/x-include-url",
              "text/x-include-once-url", "text/cloud-config-archive", "text/jinja2", "text/x-shellscript-per-boot",
              "text/x-shellscript-per-instance", "text/x-shellscript-per-once"}


def _read(file: str | os.PathLike, what: str) -> str:
    try:
        text = Path(file).read_text()
    except FileNotFoundError:
        raise InputError(f"{what} file {str(file)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} file {str(file)!r} cannot be read: {exc}") from None
    if not text.strip():
        raise InputError(f"{what} file {str(file)!r} is empty")
    return text


def _yaml(text: str, where: str):
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        reason = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise InputError(f"{where} is not valid YAML: {reason}{at}") from None


def _mapping(text: str, where: str, empty_ok: bool = False) -> dict:
    value = _yaml(text, where)
    if value is None and empty_ok:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{where} must be a YAML mapping, not {type(value).__name__ if value is not None else 'empty'}")
    return value


def check_user_data(text: str, where: str) -> None:
    """Refuse user-data cloud-init would not act on: InputError naming the reason."""
    head = text.lstrip("\ufeff")
    first = head.split("\n", 1)[0].rstrip("\r")
    if first.rstrip() == "#cloud-config":
        _mapping(head, f"{where} (#cloud-config)", empty_ok=True)
    elif first.startswith("#!"):
        return
    elif first.lower().startswith(("content-type:", "mime-version:")):
        _check_mime(head, where)
    else:
        start = first[:30] + ("..." if len(first) > 30 else "")
        raise InputError(f"{where} is not cloud-init user-data: it starts {start!r}; give `#cloud-config` YAML, a `#!` script"
                         " or a MIME multi-part archive")


def _check_mime(text: str, where: str) -> None:
    import email

    message = email.message_from_string(text)
    if not message.is_multipart():
        raise InputError(f"{where} is MIME but not multipart ({message.get_content_type()})")
    parts = [p for p in message.walk() if not p.is_multipart()]
    if not parts:
        raise InputError(f"{where} is a MIME multi-part archive without parts")
    for number, part in enumerate(parts, start=1):
        kind = part.get_content_type()
        if kind not in PART_TYPES:
            raise InputError(f"{where}: MIME part {number} is {kind}, which cloud-init does not handle")
        if kind == "text/cloud-config":
            payload = part.get_payload(decode=True) or b""
            _mapping(payload.decode(errors="replace"), f"{where}: MIME part {number} (text/cloud-config)", empty_ok=True)


def _check_network_config(text: str, where: str) -> None:
    config = _mapping(text, where)
    inner = config.get("network") if isinstance(config.get("network"), dict) else config
    if inner.get("version") not in (1, 2):
        raise InputError(f"{where} needs `version: 1` or `version: 2` (cloud-init's network config formats)")


@dataclass(frozen=True)
class NoCloud:
    """A machine's NoCloud data as checked at create: user-data, and the operator's meta-data and network-config if given."""

    user_data: str = "#cloud-config\n"
    meta_data: dict | None = None
    network_config: str | None = None

    @classmethod
    def read(cls, user_data: str | os.PathLike | None = None, meta_data: str | os.PathLike | None = None,
             network_config: str | os.PathLike | None = None) -> NoCloud | None:
        """Read and check the files (any may be None; all None: None); bad content is an InputError."""
        if user_data is None and meta_data is None and network_config is None:
            return None
        fields: dict = {}
        if user_data is not None:
            fields["user_data"] = _read(user_data, "cloud-init")
            check_user_data(fields["user_data"], f"cloud-init file {str(user_data)!r}")
        if meta_data is not None:
            fields["meta_data"] = _mapping(_read(meta_data, "meta-data"), f"meta-data file {str(meta_data)!r}")
        if network_config is not None:
            fields["network_config"] = _read(network_config, "network-config")
            _check_network_config(fields["network_config"], f"network-config file {str(network_config)!r}")
        return cls(**fields)

    def files(self, name: str) -> dict[str, str]:
        """The seed's files: user-data, meta-data (the operator's keys over instance-id and local-hostname), network-config."""
        import yaml

        # a new instance-id per machine: cloud-init runs its first-boot modules once per id
        meta = {"instance-id": f"{name}-{uuid.uuid4().hex[:12]}", "local-hostname": name, **(self.meta_data or {})}
        found = {"user-data": self.user_data, "meta-data": yaml.safe_dump(meta, default_flow_style=False, sort_keys=False)}
        if self.network_config is not None:
            found["network-config"] = self.network_config
        return found


def make_seed(folder: Path, name: str, nocloud: NoCloud) -> Path:
    """Write folder/cloud-init-seed.iso (0600) holding the NoCloud files, for a VM driver to attach."""
    tool = which("xorriso") or which("genisoimage")
    if tool is None:
        raise CreatureError("neither xorriso nor genisoimage is installed (Debian packages xorriso, genisoimage)")
    seed = folder / SEED_NAME
    with tempfile.TemporaryDirectory(prefix="creature-seed.") as tmp:
        for file, text in nocloud.files(name).items():
            (Path(tmp) / file).write_text(text)
        front = [tool, "-as", "mkisofs"] if tool.endswith("xorriso") else [tool]
        run([*front, "-quiet", "-output", str(seed), "-volid", "cidata", "-joliet", "-rock", tmp], timeout=120)
    os.chmod(seed, 0o600)
    return seed


def seed_files(nocloud: NoCloud, name: str) -> dict[str, str]:
    """{path in the rootfs: text} of the seed folder a container's cloud-init reads (var/lib/cloud/seed/nocloud)."""
    return {f"{SEED_FOLDER}/{file}": text for file, text in nocloud.files(name).items()}
