"""The busybox initramfs that kernel-booting drivers (qemu, uml) start non-busybox guests with.

Its /init mounts the root disk, writes there the NIC configuration and hostname the kernel command line
asks for (creature.dhcp=, creature.ip=, creature.hostname=), gives NICs the names creature.ifname=OLD:NEW
asks for (the names persist: they belong to the kernel), writes the SSH keys and root password hash a
machine was created with (creature.builtin.guest.access: an archive appended to the initramfs, never the
command line), starts creature's guest agent on the channel creature.agent= names (creature.builtin.guest.agent)
unless the guest brings qemu-ga, and switch_roots into the guest's init. A driver adds what only it needs
(QEMU: module loading, the ACPI power button) as shell fragments.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from creature.builtin.guest.agent import SCRIPT as AGENT_SCRIPT
from creature.errors import CreatureError
from creature.procs import which

# printed just before the guest's init takes over: until then the kernel answers ctrl-alt-del with a restart
HANDOVER = "creature-initramfs: handing over to"

_HEAD = """\
#!/bin/busybox sh
# creature initramfs: mount the root disk, say there what the kernel command line says, hand over to the guest's init.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
"""

_PARSE = """\
root={root} init=/sbin/init rw=rw dhcp= static= hostname= keep_dev= acpi= agent=
for word in $(cat /proc/cmdline); do
  case "$word" in
    root=*) root="${{word#root=}}";;
    init=*) init="${{word#init=}}";;
    ro) rw=ro;;
    creature.hostname=*) hostname="${{word#creature.hostname=}}";;
    creature.dhcp=*) dhcp="$(echo "${{word#creature.dhcp=}}" | tr , ' ')";;
    creature.ip=*) static="$static ${{word#creature.ip=}}";;
    creature.agent=*) agent="${{word#creature.agent=}}";;
    creature.ifname=*) pair="${{word#creature.ifname=}}"; ip link set "${{pair%%:*}}" name "${{pair#*:}}" 2>/dev/null;;
"""

_MOUNT = """\
  esac
done
"""

_CONFIGURE = """\
for i in $(seq 100); do [ -b "$root" ] && break; sleep 0.05; done
if ! mount -t ext4 -o "$rw" "$root" /newroot; then
  echo "creature-initramfs: cannot mount $root; here is a shell"; exec sh
fi
# Debian guests bring NICs up with ifupdown from interfaces.d: say there what the kernel command line says, at
# every boot (the driver cannot write into the copy-on-write disk). Busybox guests' rcS reads the words itself.
conf=/newroot/etc/network/interfaces.d/creature
if [ -d /newroot/etc/network/interfaces.d ] && { [ -e "$conf" ] || [ -n "$dhcp$static" ]; }; then
  { echo "# written at boot by creature's initramfs from the kernel command line: edits are lost"
    for nic in $dhcp; do printf 'auto %s\\niface %s inet dhcp\\n' "$nic" "$nic"; done
    for nic in $static; do printf 'auto %s\\niface %s inet static\\n    address %s\\n' "${nic%%:*}" "${nic%%:*}" "${nic#*:}"; done
  } > "$conf"
fi
# the template's /etc/hostname names the template, and Debian's boot sets the hostname from it (and dhclient
# sends it with its request); rewritten only when it differs, so the copy-on-write disk does not grow each boot
if [ -n "$hostname" ] && [ -f /newroot/etc/hostname ] && [ "$(cat /newroot/etc/hostname)" != "$hostname" ]; then
  echo "$hostname" > /newroot/etc/hostname
fi
[ -z "$hostname" ] || hostname "$hostname"  # already now: the agent may run commands before the guest's init sets it
# SSH keys and the root password hash come in an archive creature appended to this initramfs (never on the command
# line): written once per machine (the id marks it done), so what is changed later inside the guest stays
if [ -f /creature/access/id ] && ! cmp -s /creature/access/id /newroot/var/lib/creature/access-id; then
  home="$(awk -F: '$1 == "root" { print $6; exit }' /newroot/etc/passwd 2>/dev/null)"
  case "$home" in /*) ;; *) home=/root;; esac
  if [ -f /creature/access/authorized_keys ]; then
    mkdir -p "/newroot$home/.ssh" && chmod 700 "/newroot$home/.ssh"
    cp /creature/access/authorized_keys "/newroot$home/.ssh/authorized_keys" && chmod 600 "/newroot$home/.ssh/authorized_keys"
  fi
  if [ -f /creature/access/root-hash ]; then
    file=/newroot/etc/shadow; [ -f "$file" ] || file=/newroot/etc/passwd
    # cat > keeps the file's owner and mode (Debian's shadow is root:shadow 0640)
    awk -F: -v OFS=: -v hash="$(cat /creature/access/root-hash)" -v shadow="${file##*/}" \\
      '$1 == "root" { $2 = hash; found = 1 } { print } END { if (!found && shadow == "shadow") print "root:" hash ":19000:0:99999:7:::" }' \\
      "$file" > /access.new && cat /access.new > "$file"
  fi
  mkdir -p /newroot/var/lib/creature && cp /creature/access/id /newroot/var/lib/creature/access-id
  echo "creature-initramfs: SSH keys and root password written"
fi
"""

_AGENT = """\
# creature.agent=PORT (a virtio-serial port's name) or =DEVICE: where exec requests come (creature.builtin.guest.agent).
# qemu-ga finds its port by name under /dev/virtio-ports, which udev makes and these guests may lack: made here.
if [ -n "$agent" ]; then
  device=; case "$agent" in /dev/*) device="$agent";; esac
  for i in $(seq 100); do
    for name in /sys/class/virtio-ports/*/name; do
      [ -f "$name" ] || continue
      port="${name%/name}"; port="${port##*/}"
      mkdir -p /dev/virtio-ports && ln -sf "../$port" "/dev/virtio-ports/$(cat "$name")"
      [ "$(cat "$name")" = "$agent" ] && device="/dev/$port"
    done
    [ -n "$device" ] && [ -e "$device" ] && break
    sleep 0.05
  done
  if [ -z "$device" ] || [ ! -e "$device" ]; then
    echo "creature-initramfs: no agent channel $agent"
  elif [ "${device#/dev/vport}" != "$device" ] && [ -x /newroot/usr/sbin/qemu-ga ]; then
    echo "creature-initramfs: the guest's own qemu-ga is to answer on $agent"
  else
    # kept on a tmpfs outside the root that switch_root empties; its commands run in init's root (the guest's)
    mkdir -p /agent && mount -t tmpfs -o mode=0700 agent /agent && mkdir /agent/bin /agent/proc
    cp /bin/busybox /agent/bin/busybox && /agent/bin/busybox --install -s /agent/bin && cp /bin/creature-agent /agent/agent
    mount -t proc proc /agent/proc
    PATH=/agent/bin setsid /agent/bin/sh /agent/agent "$device" /agent/proc/1/root /agent/run /agent/proc/1/exe \
      </dev/null >/dev/null 2>&1 &
    keep_dev=1  # the agent keeps its device open on the first devtmpfs
    echo "creature-initramfs: creature's agent answers on $agent"
  fi
fi
"""

_HANDOVER = """\
# A second devtmpfs mount for the guest: a driver's fragment may keep the first (keep_dev=1) for a helper.
mount -t devtmpfs devtmpfs /newroot/dev
[ -n "$keep_dev" ] || umount /dev
umount /proc /sys
echo "{handover} $init"
exec switch_root /newroot "$init"
"""


# For inits that ignore the ACPI power button (busybox's): creature.acpi=SIGNAL makes /init start a busybox
# acpid, kept on a tmpfs outside the root that switch_root empties, which turns the button into that signal.
ACPI_WORD = """\
    creature.acpi=*) acpi="${word#creature.acpi=}";;
"""
ACPI_HANDOVER = """\
if [ -n "$acpi" ]; then
  mkdir -p /acpi && mount -t tmpfs -o mode=0700 acpi /acpi && mkdir -p /acpi/etc/PWRF
  cp /bin/busybox /acpi/busybox
  printf '#!/acpi/busybox sh\\nkill -%s 1\\n' "$acpi" > /acpi/etc/PWRF/00000080
  chmod 0700 /acpi/etc/PWRF/00000080
  # acpid opens only the event devices there when it starts, and another device's may come first: wait for the button's
  for i in $(seq 100); do
    for name in /sys/class/input/event*/device/name; do
      event="${name%/device/name}"
      [ "$(cat "$name" 2>/dev/null)" = "Power Button" ] && [ -e "/dev/input/${event##*/}" ] && break 2
    done
    sleep 0.05
  done
  /acpi/busybox acpid -c /acpi/etc -l /acpi/acpid.log
  keep_dev=1  # acpid keeps its input devices open on the first devtmpfs
fi
"""


def init_script(root: str, prelude: str = "", words: str = "", before_mount: str = "", before_handover: str = "") -> str:
    """/init for root device root; the fragments are a driver's shell lines (words: extra `case` arms for /proc/cmdline)."""
    return (_HEAD + prelude + _PARSE.format(root=root) + words + _MOUNT + before_mount + _CONFIGURE
            + before_handover + _AGENT + _HANDOVER.format(handover=HANDOVER))


def _newc(name: str, mode: int, data: bytes, rdev: tuple[int, int], ino: int) -> bytes:
    encoded = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
    out = b"070701" + b"".join(b"%08X" % f for f in fields) + encoded
    out += b"\0" * (-len(out) % 4)
    return out + data + b"\0" * (-len(data) % 4)


def base_entries(busybox: Path, init: str) -> list[tuple[str, int, bytes]]:
    """The (name, mode, data) entries every such initramfs has: the folders /init uses, busybox, the agent and /init."""
    folders = ("dev", "bin", "proc", "sys", "newroot")
    return [*((name, stat.S_IFDIR | 0o755, b"") for name in folders),
            ("dev/console", stat.S_IFCHR | 0o600, b""),
            ("bin/busybox", stat.S_IFREG | 0o755, busybox.read_bytes()),
            ("bin/creature-agent", stat.S_IFREG | 0o755, AGENT_SCRIPT.encode()),
            ("init", stat.S_IFREG | 0o755, init.encode())]


def archive(entries: list[tuple[str, int, bytes]]) -> bytes:
    """entries as an uncompressed newc cpio archive (no compression: it boots fastest under TCG and UML)."""
    out = b""
    for ino, (name, mode, data) in enumerate(entries, start=1):
        # the kernel opens /dev/console for /init before devtmpfs is mounted: the archive brings the node
        rdev = (5, 1) if name == "dev/console" else (0, 0)
        out += _newc(name, mode, data, rdev, ino)
    return out + _newc("TRAILER!!!", 0, b"", (0, 0), 0)


def initramfs_key(*parts: bytes) -> str:
    """A cache key for an initramfs made of base_entries and parts (/init, busybox, modules...): what the base adds counts too."""
    import hashlib

    return hashlib.sha256(AGENT_SCRIPT.encode() + b"".join(parts)).hexdigest()[:12]


def module_order(modules: Path, names: tuple[str, ...], kernel: str) -> list[str]:
    """The files (relative to the kernel's modules folder) to insmod for names, dependencies first, each once."""
    deps = {}
    for line in (modules / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        # modules.dep lists every transitive dependency; loading them last-first satisfies each in turn
        deps[Path(path).name.removesuffix(".ko").replace("-", "_")] = [*reversed(rest.split()), path]
    order: list[str] = []
    for name in names:
        if name not in deps:
            raise CreatureError(f"{kernel} has no module {name} (is it built in, or is linux-image incomplete?)")
        order += [p for p in deps[name] if p not in order]
    return order


def host_busybox() -> Path:
    """The host's static busybox (Debian package busybox-static): the initramfs's only program."""
    found = which("busybox")
    if found is None:
        raise CreatureError("busybox is not installed (Debian package busybox-static)")
    return Path(os.path.realpath(found))
