"""Direct kernel boot for libvirt QEMU domains: Debian's kernel as a PVH vmlinux plus a tiny initramfs.

The initramfs holds the host's static busybox, the virtio disk and ext4 modules, and an /init that
mounts /dev/vda and switch_roots; it also starts a busybox acpid so that the ACPI power button
(libvirt's graceful shutdown) reaches a busybox init, which ignores it by itself.
Both files are made once per kernel version under the shared cache.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import re
import stat
import struct
import tempfile
from pathlib import Path

from creature.errors import CreatureError
from creature.home import shared_cache
from creature.procs import which

MODULES = ("virtio_pci", "virtio_blk", "crc32c_generic", "ext4", "button", "evdev")

INIT = """\
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev; mount -t proc proc /proc; mount -t sysfs sys /sys
for m in $(cat /modules.order); do insmod "/modules/$m"; done
for i in $(seq 100); do [ -b /dev/vda ] && break; sleep 0.05; done
mount -t ext4 /dev/vda /newroot || exec sh
sig=
for w in $(cat /proc/cmdline); do case "$w" in creature.acpi=*) sig="${w#creature.acpi=}";; esac; done
if [ -n "$sig" ]; then
  # kept on a tmpfs outside the new root, which switch_root empties
  mkdir -p /acpi/PWRF && mount -t tmpfs acpi /acpi && mkdir -p /acpi/PWRF && cp /bin/busybox /acpi/
  printf '#!/acpi/busybox sh\\n/acpi/busybox kill -%s 1\\n' "$sig" > /acpi/PWRF/00000080; chmod 0700 /acpi/PWRF/00000080
  for i in $(seq 40); do [ -e /dev/input/event0 ] && break; sleep 0.05; done
  /acpi/busybox acpid -c /acpi -l /acpi/log
fi
mount --move /dev /newroot/dev; umount /proc /sys
exec switch_root /newroot /sbin/init
"""


def newest_kernel() -> tuple[str, Path]:
    """(version, bzImage) of the newest /boot kernel whose modules are installed (package linux-image-amd64)."""
    found = []
    for image in Path("/boot").glob("vmlinuz-*"):
        version = image.name.removeprefix("vmlinuz-")
        if Path(f"/lib/modules/{version}/modules.dep").is_file():
            found.append((tuple(int(n) for n in re.findall(r"\d+", version)), version, image))
    if not found:
        raise CreatureError("no kernel with modules in /boot and /lib/modules: install the Debian package linux-image-amd64")
    return max(found)[1:]


def _vmlinux(bzimage: Path) -> bytes:
    # the PVH entry of the ELF vmlinux boots 2-3x faster under TCG than the bzImage's decompressor
    image = bzimage.read_bytes()
    setup = (image[0x1F1] or 4) + 1
    offset, length = struct.unpack_from("<II", image, 0x248)
    payload = image[setup * 512 + offset:setup * 512 + offset + length]
    if not payload.startswith(b"\xfd7zXZ\x00"):
        raise CreatureError(f"{bzimage}: only xz-compressed kernels (Debian's) can be unpacked for PVH boot")
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)


def _module_files(version: str) -> list[str]:
    deps = {}
    for line in Path(f"/lib/modules/{version}/modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[Path(path).name.removesuffix(".ko").replace("-", "_")] = [*reversed(rest.split()), path]
    order: list[str] = []
    for name in MODULES:
        if name not in deps:
            raise CreatureError(f"kernel {version} has no module {name}")
        order += [p for p in deps[name] if p not in order]
    return order


def _newc(ino: int, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> bytes:
    encoded = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, *rdev, len(encoded), 0)
    out = b"070701" + b"".join(b"%08X" % f for f in fields) + encoded
    out += b"\0" * (-len(out) % 4)
    return out + data + b"\0" * (-len(data) % 4)


def _initramfs(version: str, busybox: Path) -> bytes:
    files = _module_files(version)
    entries = [(n, stat.S_IFDIR | 0o755, b"") for n in ("dev", "bin", "proc", "sys", "newroot", "modules")]
    entries += [("dev/console", stat.S_IFCHR | 0o600, b""), ("bin/busybox", stat.S_IFREG | 0o755, busybox.read_bytes()),
                ("init", stat.S_IFREG | 0o755, INIT.encode()),
                ("modules.order", stat.S_IFREG | 0o644, "".join(Path(p).name + "\n" for p in files).encode())]
    entries += [(f"modules/{Path(p).name}", stat.S_IFREG | 0o644, Path(f"/lib/modules/{version}/{p}").read_bytes())
                for p in files]
    out = b"".join(_newc(i, n, m, d, (5, 1) if n == "dev/console" else (0, 0)) for i, (n, m, d) in enumerate(entries, 1))
    return out + _newc(0, "TRAILER!!!", 0)


def _write_once(path: Path, make) -> Path:
    if not path.exists():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(make())
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    return path


def boot_files() -> tuple[Path, Path]:
    """(vmlinux, initramfs) for direct boot, made once per kernel version and busybox."""
    version, bzimage = newest_kernel()
    found = which("busybox")
    if found is None:
        raise CreatureError("busybox is not installed (Debian package busybox-static)")
    busybox = Path(os.path.realpath(found))
    folder = shared_cache() / "libvirt" / version
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(INIT.encode() + repr(MODULES).encode() + busybox.read_bytes()).hexdigest()[:12]
    return (_write_once(folder / "vmlinux", lambda: _vmlinux(bzimage)),
            _write_once(folder / f"initramfs-{key}.cpio", lambda: _initramfs(version, busybox)))
