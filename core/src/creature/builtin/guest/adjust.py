"""Adjusting a cloned guest's files for its name, network and access (the "adjust init" step raw lxc-debian leaves undone).

Any driver that can write into the guest's tree (a rootfs copy, an overlay's upper folder, a
mounted disk) calls adjust(); what it writes depends on what the template holds, read from base.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from creature.errors import CreatureError, InputError
from creature.records import Record, field

SSH_KEY_TYPES = ("ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-")
# systemd units that bring up udev; a container has no devices of its own to manage
UDEV_UNITS = ("systemd-udevd.service", "systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
              "systemd-udev-trigger.service", "systemd-udev-settle.service")
NO_UDEV_SCRIPT = "#!/bin/sh\n# creature: containers do not run udev (the host owns the devices)\nexit 0\n"


class Access(Record, frozen=True):
    """Create-time ways into a guest: SSH public keys and a root password hash. Never stored in the inventory."""

    ssh_keys: tuple[str, ...] = ()
    root_password_hash: str | None = None
    key_file: str | None = None  # where the keys came from (`creature ssh` logs in with the private key beside it)
    # hashed by hashed(), once a driver is known to take it: a refused create runs nothing
    root_password: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, ssh_key_file: str | os.PathLike | None = None, root_password: str | None = None) -> Access:
        """Read and check an SSH public key file and a root password (both optional); bad input is an InputError."""
        keys: tuple[str, ...] = ()
        if ssh_key_file is not None:
            try:
                text = Path(ssh_key_file).read_text()
            except FileNotFoundError:
                raise InputError(f"ssh key file {str(ssh_key_file)!r} does not exist") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"ssh key file {str(ssh_key_file)!r} cannot be read: {exc}") from None
            keys = tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
            if not keys or not all(k.startswith(SSH_KEY_TYPES) for k in keys):
                raise InputError(f"ssh key file {str(ssh_key_file)!r} is not an SSH public key (want e.g. ssh-ed25519 AAAA...)")
        if root_password is not None and (not root_password or "\n" in root_password):
            raise InputError("the root password must be one non-empty line")
        return cls(ssh_keys=keys, root_password=root_password,
                   key_file=str(Path(ssh_key_file).absolute()) if ssh_key_file is not None else None)

    def hashed(self) -> Access:
        """This access with its root password hashed (openssl) and the password itself dropped."""
        if self.root_password is None:
            return self
        return self.replace(root_password_hash=hash_password(self.root_password), root_password=None)

    def __bool__(self) -> bool:
        return bool(self.ssh_keys or self.root_password_hash or self.root_password)


def hash_password(password: str) -> str:
    """A SHA-512 crypt hash ($6$) of password, made by `openssl passwd -6` (the password goes through stdin)."""
    from creature.procs import run, which

    openssl = which("openssl")
    if openssl is None:
        raise CreatureError("openssl is not installed (Debian package openssl): needed to hash --root-password")
    return run([openssl, "passwd", "-6", "-stdin"], input=password + "\n").stdout.strip()


class NetworkConfig(Record, frozen=True):
    """One NIC's guest-side configuration: DHCP unless a static address (CIDR) is reserved."""

    device: str
    address: str | None = None
    gateway: str | None = None
    hostname: str = ""


def network_configs(name: str, nics: Sequence) -> list[NetworkConfig]:
    """eth0, eth1, ... for each NIC: DHCP, or static from Nic.ip (a CIDR, or an address in a /24).

    A machine without NICs gets none: a container that shares its host's network namespace (libvirt
    LXC without privnet) would otherwise run a DHCP client on the host's own eth0.
    """
    configs = []
    for index, nic in enumerate(nics):
        ip = getattr(nic, "ip", None)
        address = gateway = None
        if ip:
            try:
                iface = ipaddress.ip_interface(ip if "/" in ip else f"{ip}/24")
            except ValueError:
                raise InputError(f"invalid IP address {ip!r} for NIC {index}") from None
            address = str(iface)
            first = next(iface.network.hosts(), None)  # creature networks put the bridge on the first address
            gateway = str(first) if first is not None and first != iface.ip else None
        configs.append(NetworkConfig(device=f"eth{index}", address=address, gateway=gateway, hostname=name))
    return configs


def interfaces_text(configs: list[NetworkConfig], debian: bool) -> str:
    """/etc/network/interfaces for ifupdown (Debian) or busybox ifup: `auto` for every NIC, since hotplug never fires in a container."""
    lines = ["# written by creature at create time", "auto lo", "iface lo inet loopback", ""]
    for c in configs:
        lines.append(f"auto {c.device}")
        if c.address:
            iface = ipaddress.ip_interface(c.address)
            lines += [f"iface {c.device} inet static", f"    address {iface.ip}", f"    netmask {iface.network.netmask}"]
            if c.gateway:
                lines.append(f"    gateway {c.gateway}")
        else:
            lines += [f"iface {c.device} inet dhcp", f"    hostname {c.hostname}"]
        lines.append("")
    if debian:
        lines.append("source /etc/network/interfaces.d/*")
    return "\n".join(lines) + "\n"


def _parents(root: Path, rel: str, dir_mode: int = 0o755) -> Path:
    path = root / rel
    for parent in reversed(path.relative_to(root).parents[:-1]):
        d = root / parent
        if d.is_symlink():
            raise CreatureError(f"{d} is a symlink: refusing to write through it")
        if not d.exists():
            d.mkdir(mode=dir_mode)
    return path


def _write(root: Path, rel: str, text: str, mode: int = 0o644, dir_mode: int = 0o755) -> Path:
    path = _parents(root, rel, dir_mode)
    if path.is_symlink():
        path.unlink()  # never write through a guest's symlink onto the host
    path.write_text(text)
    os.chmod(path, mode)
    return path


def _read(base: Path, root: Path, rel: str) -> str | None:
    """A guest file as the clone sees it: the adjusted layer first, then the template."""
    for tree in (root, base):
        path = tree / rel
        if path.is_file() and not path.is_symlink():
            return path.read_text(errors="replace")
    return None


def _root_home(base: Path, root: Path) -> str:
    for line in (_read(base, root, "etc/passwd") or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[0] == "root" and fields[5].startswith("/") and ".." not in fields[5]:
            return fields[5].strip("/") or "root"
    return "root"


def _set_root_password(base: Path, root: Path, hashed: str) -> None:
    shadow = _read(base, root, "etc/shadow")
    if shadow is not None:
        source = base / "etc/shadow" if not (root / "etc/shadow").exists() else root / "etc/shadow"
        st = source.stat()
        lines = shadow.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("root:"):
                fields = line.split(":")
                fields[1] = hashed
                lines[i] = ":".join(fields)
                break
        else:
            lines.insert(0, f"root:{hashed}:19000:0:99999:7:::")
        path = _write(root, "etc/shadow", "\n".join(lines) + "\n", st.st_mode & 0o777)
        os.chown(path, st.st_uid, st.st_gid)  # Debian: root:shadow 0640, read by unix_chkpwd
        return
    # busybox without shadow: its login reads the hash from /etc/passwd
    passwd = _read(base, root, "etc/passwd") or "root::0:0:root:/root:/bin/sh\n"
    lines = [":".join(["root", hashed, *line.split(":")[2:]]) if line.startswith("root:") else line for line in passwd.splitlines()]
    _write(root, "etc/passwd", "\n".join(lines) + "\n", 0o644)


def _disable_udev(base: Path, root: Path) -> None:
    for unit in UDEV_UNITS:
        link = root / "etc/systemd/system" / unit
        if (base / "lib/systemd/system" / unit).exists() or (base / "usr/lib/systemd/system" / unit).exists():
            _parents(root, f"etc/systemd/system/{unit}")
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to("/dev/null")  # systemd's "masked"
    if (base / "etc/init.d/udev").exists():
        _write(root, "etc/init.d/udev", NO_UDEV_SCRIPT, 0o755)


def adjust(root: Path, name: str, nics: Sequence = (), *, base: Path | None = None, container: bool = False,
           access: Access | None = None, nocloud=None) -> None:
    """Configure a cloned guest: hostname, /etc/hosts, DHCP or static network per NIC, no udev in containers, SSH keys,
    root password, cloud-init's NoCloud seed folder (nocloud: creature.builtin.guest.nocloud.NoCloud).

    root is where files are written (a rootfs, or an overlay's upper folder); base is the template's
    rootfs it is layered on (default: root), read to learn what the guest is.
    """
    base = base or root
    debian = (base / "etc/debian_version").exists()
    _write(root, "etc/hostname", f"{name}\n")
    _write(root, "etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    _write(root, "etc/network/interfaces", interfaces_text(network_configs(name, nics), debian))
    if container:
        _disable_udev(base, root)
    if nocloud is not None:
        from creature.builtin.guest.nocloud import seed_files

        for rel, text in seed_files(nocloud, name).items():
            _write(root, rel, text, 0o600, dir_mode=0o700)  # user-data may hold secrets: root's only
    if access is None:
        return
    access = access.hashed()
    if access.ssh_keys:
        home = _root_home(base, root)
        _write(root, f"{home}/.ssh/authorized_keys", "\n".join(access.ssh_keys) + "\n", 0o600, dir_mode=0o700)
        os.chmod(root / home / ".ssh", 0o700)
    if access.root_password_hash:
        _set_root_password(base, root, access.root_password_hash)
