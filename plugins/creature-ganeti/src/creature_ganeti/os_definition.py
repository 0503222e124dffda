"""The `creature` Ganeti OS definition (OS API 20): it copies a creature template's image onto an instance's disk.

Installed on every node (`creature ganeti os-definition /srv/ganeti/os/creature`, or `python -m
creature_ganeti.os_definition DIR`), it takes one OS parameter, `image`: the path, on the nodes, of a
raw ext4 image in the shared image folder. `create` writes it onto disk 0 and grows its file system to
the disk; `verify parameters` refuses an image the node cannot read (the folder is not shared there), so
Ganeti fails the creation before it makes a disk. `export` and `import` stream a disk as it is (for
gnt-backup and instance moves: not exercised by creature's tests).
"""

from __future__ import annotations

import sys
from pathlib import Path

# $DISK_0_PATH is a block device (plain, drbd), which may hold old data and gets every block, or a file (file,
# sharedfile), fresh and all holes: cp copies only the image's data (it skips the holes with SEEK_DATA: 0.06 s for
# a 1 GiB busybox image where dd reads 2 s of zeros), then the file gets its size back.
CREATE = """\
#!/bin/sh
# creature's Ganeti OS definition: copy a creature template image onto disk 0 (written by creature-ganeti)
set -e
if [ -z "$OSP_IMAGE" ]; then echo "creature OS: no image parameter (-O image=PATH)" >&2; exit 1; fi
if [ ! -r "$OSP_IMAGE" ]; then echo "creature OS: $OSP_IMAGE is not readable on $(hostname): is the image folder shared with this node?" >&2; exit 1; fi
if [ "${DISK_COUNT:-0}" -lt 1 ] || [ -z "$DISK_0_PATH" ]; then echo "creature OS: the instance has no disk" >&2; exit 1; fi
if [ -b "$DISK_0_PATH" ]; then
  dd if="$OSP_IMAGE" of="$DISK_0_PATH" bs=1M conv=notrunc,fsync status=none
else
  size=$(stat -c %s "$DISK_0_PATH")
  cp --sparse=always "$OSP_IMAGE" "$DISK_0_PATH"
  truncate -s "$size" "$DISK_0_PATH"
  sync -f "$DISK_0_PATH"
fi
e2fsck -f -p "$DISK_0_PATH" >/dev/null || [ $? -le 1 ]
resize2fs "$DISK_0_PATH" >/dev/null
echo "creature OS: $OSP_IMAGE copied onto disk 0 of $INSTANCE_NAME"
"""

VERIFY = """\
#!/bin/sh
# creature's Ganeti OS definition: check the OS parameters (written by creature-ganeti)
[ "$1" = "parameters" ] || exit 0
if [ -n "$OSP_IMAGE" ] && [ ! -r "$OSP_IMAGE" ]; then
  echo "creature OS: image $OSP_IMAGE is not readable on $(hostname): is the image folder shared with this node?" >&2; exit 1
fi
exit 0
"""

NOOP = "#!/bin/sh\n# creature's Ganeti OS definition: nothing to do (written by creature-ganeti)\nexit 0\n"
EXPORT = """\
#!/bin/sh
# creature's Ganeti OS definition: the disk as it is, on stdout (written by creature-ganeti)
exec dd if="$EXPORT_DISK_PATH" bs=1M status=none
"""
IMPORT = """\
#!/bin/sh
# creature's Ganeti OS definition: a disk from export, on stdin (written by creature-ganeti)
exec dd of="$IMPORT_DISK_PATH" bs=1M status=none
"""

FILES = {
    "create": CREATE,
    "import": IMPORT,
    "export": EXPORT,
    "rename": NOOP,
    "verify": VERIFY,
    "ganeti_api_version": "20\n",
    "variants.list": "default\n",
    "parameters.list": "image path of the raw ext4 image (in the shared image folder) to copy onto disk 0\n",
}


def write(folder: Path) -> list[Path]:
    """Write the OS definition into folder (made if missing); the files written."""
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    written = []
    for name, text in FILES.items():
        path = folder / name
        path.write_text(text)
        path.chmod(0o755 if text.startswith("#!") else 0o644)
        written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m creature_ganeti.os_definition DIR   (like /srv/ganeti/os/creature on every node)")
    for path in write(Path(sys.argv[1])):
        print(path)
