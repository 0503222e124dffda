"""Export a stopped machine as one portable archive, and import one into a home: streamed, checked, all or nothing.

The archive is a tar stream (PAX), compressed by zstd (a subprocess: Python 3.11 has no zstd, and zstd -T0 is
several times faster than the standard library's gzip at a better ratio) or gzip (the standard library, where
zstd is missing), or not at all. Its first member, manifest.json, says the format version, the machine's spec
and driver, its NICs, its template's facts and the kind of root; then the root flattened (root/... for a
container's file tree, disk.qcow2 for a VM's disk, backing file merged in); last, checksums.json: the sha256 of
every file member and the list of every member. Nothing is held in memory whole: files pass through in 1 MiB pieces.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
import tarfile
import zlib
from pathlib import Path

from creature.builtin.snapshots.overlay import merged
from creature.builtin.snapshots.transfer import Corrupt, Meter, open_input, open_output
from creature.checkpoints import checkpoint
from creature.drivers import require
from creature.errors import CreatureError, InputError
from creature.names import check_name
from creature.procs import run, which
from creature.records import MachineSpec, Nic, Template, TemplateMeta
from creature.state import ADDRESSED
from creature.templates import remove_tree, tree_size

FORMAT = 1
MANIFEST, CHECKSUMS, ROOT, DISK = "manifest.json", "checksums.json", "root", "disk.qcow2"
CHUNK = 1 << 20


def _entries(kind: str, path: Path, lower: Path) -> list[tuple[str, Path]]:
    """(member name, source) for every entry of the root, parents first."""
    if kind == "qcow2":
        return [(DISK, path)]
    if kind == "overlay":
        found = merged(path, lower)
    else:
        found = ((str(Path(r, n).relative_to(path)), Path(r, n)) for r, dirs, files in os.walk(path)
                 for n in sorted(dirs) + sorted(files))
    return [(ROOT, path if kind == "rootfs" else lower)] + [(f"{ROOT}/{rel}", src) for rel, src in found]


class _Hashing:
    """A file read through sha256 and the progress meter."""

    def __init__(self, f, meter: Meter):
        self.f, self.meter, self.digest = f, meter, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        self.digest.update(data)
        self.meter.advance(len(data))
        return data


def _local(api, what: str) -> None:
    from creature.builtin.remote.hosts import host_uri

    if host_uri(api.home):
        raise InputError(f"{what} reads and writes the machine's files: run it on the machine's own host")


def export(api, name: str, output: str, compression: str = "zstd") -> dict:
    """Write machine name (stopped) to output (a path, or '-' for stdout) as one archive; return its manifest."""
    _local(api, "export")
    machine = api.machine(name)
    driver = api.usable_driver(machine.driver)
    require(driver, "export", "export")
    if output == "-" and sys.stdout.isatty():
        raise InputError("refusing to write an archive to a terminal: give -o FILE, or pipe it")
    with api.home.lock("machine", name):
        machine = api.machine(name)
        if driver.state(machine) in ADDRESSED:
            raise CreatureError(f"machine {name!r} is running: stop it before exporting it")
        template = api.templates.get(machine.spec.template)
        scratch = api.home.staging / f"export.{name}.{os.getpid()}"
        remove_tree(scratch)
        scratch.mkdir(mode=0o700)
        try:
            kind, root = driver.export_root(machine, scratch)
            entries = _entries(kind, root, template.rootfs)
            manifest = {"format": FORMAT, "machine": machine.spec.to_dict(), "driver": machine.driver, "root": kind,
                        "nics": [n.to_dict() for n in machine.spec.nics], "data": machine.data,
                        "template": {"name": template.name, "method": template.method, "options": template.options,
                                     "meta": _portable_meta(template)}}
            total = sum(os.lstat(src).st_size for _, src in entries if os.path.isfile(src) and not os.path.islink(src))
            with open_output(output, compression) as sink, Meter(f"exporting {name}", total) as meter:
                _write(sink, manifest, entries, meter)
        finally:
            remove_tree(scratch)
    return manifest


def _portable_meta(template: Template) -> dict:
    """The template's facts, with its kernel and initrd named inside its rootfs rather than on this host."""
    meta = template.meta.to_dict()
    for key in ("kernel", "initrd"):
        value = meta.get(key)
        if value and Path(value).is_relative_to(template.rootfs):
            meta[key] = str(Path(value).relative_to(template.rootfs))
        elif value:
            meta.pop(key)
    return meta


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io
    import time

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _write(sink, manifest: dict, entries: list[tuple[str, Path]], meter: Meter) -> None:
    sums, names = {}, [MANIFEST]
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK) as tar:
        tar.copybufsize = CHUNK
        _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode())
        for arcname, source in entries:
            info = tar.gettarinfo(str(source), arcname)
            if info is None:
                continue  # a socket: nothing to carry
            info.uname = info.gname = ""  # numeric owners: the importing host's names may differ
            names.append(arcname)
            if info.isreg():
                with open(source, "rb") as f:
                    reader = _Hashing(f, meter)
                    tar.addfile(info, reader)
                sums[arcname] = reader.digest.hexdigest()
            else:
                tar.addfile(info)
        _add_bytes(tar, CHECKSUMS, json.dumps({"sha256": sums, "members": names}).encode())


def _safe(name: str) -> str:
    parts = Path(name).parts
    if not name or name.startswith("/") or ".." in parts or not (name in (DISK, ROOT) or parts[0] == ROOT):
        raise Corrupt(f"unexpected member {name!r}")
    return name


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, meter: Meter) -> str | None:
    """Extract one member below dest without following any link in the way; return a regular file's sha256."""
    target = dest / _safe(member.name)
    parent = target.parent.resolve()
    if parent != dest.resolve() and not parent.is_relative_to(dest.resolve()):
        raise Corrupt(f"member {member.name!r} would land outside the import (through a link)")
    if os.path.lexists(target) and not (member.isdir() and target.is_dir() and not target.is_symlink()):
        raise Corrupt(f"member {member.name!r} appears twice")
    if member.islnk():
        _safe(member.linkname)
    if not member.isreg():
        tar.extract(member, dest, set_attrs=True, numeric_owner=True, filter="fully_trusted")
        return None
    source, digest = tar.extractfile(member), hashlib.sha256()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        while data := source.read(CHUNK):
            digest.update(data)
            meter.advance(len(data))
            out.write(data)
    tar.chown(member, str(target), numeric_owner=True)
    tar.chmod(member, str(target))
    tar.utime(member, str(target))
    return digest.hexdigest()


def _read_manifest(tar: tarfile.TarFile) -> dict:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isreg() or first.size > CHUNK:
        raise Corrupt("no manifest.json first: not a creature export")
    manifest = json.loads(tar.extractfile(first).read())
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Corrupt(f"unknown export format {manifest.get('format') if isinstance(manifest, dict) else manifest!r}"
                      f" (this creature reads format {FORMAT})")
    if manifest.get("root") not in ("rootfs", "overlay", "qcow2") or not isinstance(manifest.get("machine"), dict):
        raise Corrupt("the manifest lacks the machine or its root")
    return manifest


def _new_spec(api, manifest: dict, name: str | None, keep_macs: bool, template: str) -> MachineSpec:
    spec = dict(manifest["machine"], template=template, name=name or manifest["machine"].get("name"))
    if not keep_macs:  # a copy gets addresses of its own: new MACs, and the reservations assigned anew
        spec["nics"] = [{"network": n.get("network")} for n in spec.get("nics", [])]
    parsed = MachineSpec.parse(dict(spec, template="x"))  # validated as operator input; its template comes later
    return parsed.replace(template=template, nics=tuple(Nic(**n.to_dict()) for n in parsed.nics))


def import_(api, source: str, name: str | None = None, keep_macs: bool = False):
    """Recreate the machine of an archive in this home (under name); a damaged archive imports nothing (exit 2)."""
    _local(api, "import")
    if name is not None:
        check_name("machine", name)
    staging = None
    with open_input(source) as (stream, meter, finish):
        try:
            tar = tarfile.open(fileobj=stream, mode="r|", bufsize=CHUNK)
            manifest = _read_manifest(tar)
            new = check_name("machine", name or manifest["machine"].get("name"))
            template_name = check_name("template", f"{new}-import")
            spec = _new_spec(api, manifest, new, keep_macs, template_name)
            api.registry.check_known(manifest["driver"])
            driver = api.driver(manifest["driver"])
            if not api.probe(driver.name).usable:
                raise InputError(f"driver {driver.name!r} is not usable on this host: {api.probe(driver.name).reason}")
            if api.inventory.machine(new) is not None:
                raise InputError(f"machine {new!r} already exists (import it under another name with --name)")
            if api.inventory.template(template_name) is not None or (api.home.templates / template_name).exists():
                raise InputError(f"template {template_name!r} exists: remove it, or import under another --name")
            with api.home.lock("machine", new):
                staging = api.home.staging / f"import.{new}.{os.getpid()}"
                remove_tree(staging)
                staging.mkdir(mode=0o700)
                _unpack(tar, staging, meter)
                finish()
                checkpoint("import.unpacked")
                template = _make_template(api, manifest, staging, template_name)
        except (Corrupt, tarfile.TarError, EOFError, ValueError, gzip.BadGzipFile, zlib.error) as exc:
            # ValueError: bad JSON or text; other OSErrors (a full disk) are the host's trouble, not the archive's
            raise Corrupt(f"{source} is damaged or not a creature export ({exc}); nothing was imported") from None
        finally:
            if staging is not None:
                remove_tree(staging)
    try:
        return api.create(spec.replace(driver=driver.name))
    except BaseException:
        api.templates.remove(template.name)
        raise


def _unpack(tar: tarfile.TarFile, staging: Path, meter: Meter) -> None:
    sums, names, dirs, checks = {}, [MANIFEST], [], None
    for member in tar:
        if member.name == MANIFEST and names == [MANIFEST] and not sums and not dirs:
            continue  # read already (_read_manifest): iterating a stream starts again from its first member
        if checks is not None:
            raise Corrupt(f"member {member.name!r} after checksums.json")
        if member.name == CHECKSUMS:
            checks = json.loads(tar.extractfile(member).read())
            continue
        names.append(member.name)
        digest = _extract(tar, member, staging, meter)
        if digest is not None:
            sums[member.name] = digest
        if member.isdir():
            dirs.append(member)
    if checks is None:
        raise Corrupt("no checksums.json: the archive is truncated")
    if checks.get("members") != names:
        raise Corrupt("its members are not the ones it lists: the archive is damaged")
    bad = [n for n, digest in sums.items() if checks.get("sha256", {}).get(n) != digest]
    if bad or set(checks.get("sha256", {})) != set(sums):
        raise Corrupt(f"checksum mismatch in {', '.join(bad[:3]) or 'the list of files'}")
    for member in reversed(dirs):  # their times, once nothing more is written inside them
        tar.utime(member, str(staging / member.name))


def _make_template(api, manifest: dict, staging: Path, name: str) -> Template:
    """The imported root as a template of this home: a container's tree, or a VM's disk as its disk.ext4."""
    folder = staging / "template"
    folder.mkdir(mode=0o700)
    meta = dict(manifest["template"].get("meta") or {})
    if manifest["root"] == "qcow2":
        (folder / "rootfs").mkdir(mode=0o755)
        img = which("qemu-img") or "qemu-img"
        run([img, "convert", "-q", "-f", "qcow2", "-O", "raw", str(staging / DISK), str(folder / "disk.ext4")], timeout=3600)
        os.chmod(folder / "disk.ext4", 0o600)
        meta.pop("kernel", None)
        meta.pop("initrd", None)
    else:
        os.rename(staging / ROOT, folder / "rootfs")
    final = api.home.templates / name
    for key in ("kernel", "initrd"):
        if meta.get(key):
            meta[key] = str(final / "rootfs" / meta[key])
    meta["imported_from"] = manifest["template"].get("name")
    template = Template(name=name, method="import", path=final, options={}, meta=TemplateMeta.from_dict(meta),
                        size=tree_size(folder))
    os.rename(folder, final)
    try:
        api.inventory.add_template(template)
    except BaseException:
        remove_tree(final)
        raise
    return template

