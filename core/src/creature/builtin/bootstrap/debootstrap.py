"""The debootstrap method: Debian root filesystems that boot, cached as tarballs keyed by what they contain.

Two cache levels live in the shared cache (version-keyed, shared by every home): debootstrap's own
package tarball (--make-tarball, so a rebuild needs no network) and the unpacked root filesystem as a
tar file, so a second template with the same key costs one extraction instead of a package install.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from creature.builtin.bootstrap.apt import DEFAULT_MIRROR, host_mirror  # noqa: F401 (DEFAULT_MIRROR re-exported)
from creature.builtin.bootstrap.osinfo import describe
from creature.builtin.support.progress import progress
from creature.errors import CreatureError
from creature.home import file_lock, shared_cache
from creature.procs import run, which
from creature.templates import Bootstrapper, remove_tree

SCRIPTS = Path("/usr/share/debootstrap/scripts")
VARIANTS = ("minbase", "buildd", "fakechroot", "default")
# what a guest needs to boot on its own and take a DHCP lease; minbase has none of it
BOOT_PACKAGES = ("ifupdown", "isc-dhcp-client", "procps", "iproute2")
# sysvinit by default: systemd as a container's init wants a cgroup2 it can own, and these hosts
# mount cgroup v1 controllers with an empty cgroup2 (see README); --include systemd-sysv opts in
DEFAULT_INIT = "sysvinit-core"
INIT_PACKAGES = ("sysvinit-core", "systemd-sysv", "runit-init", "openrc")
PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
ARCH_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TIMEOUT = 3600


def packages(include: list[str]) -> list[str]:
    """The extra packages a build installs: the boot set plus an init, unless include names its own."""
    chosen = set(include)
    if not chosen & set(INIT_PACKAGES):
        chosen.add(DEFAULT_INIT)
    chosen.update(BOOT_PACKAGES)
    return sorted(chosen)


def cache_key(suite: str, variant: str, arch: str, pkgs: list[str]) -> str:
    """The cache name of a build: suite, variant, architecture and a digest of the package set."""
    digest = hashlib.sha256(",".join(sorted(pkgs)).encode()).hexdigest()[:16]
    return f"{suite}-{variant}-{arch}-{digest}"


def _tar(*args: str, on_line=None) -> None:
    tar = which("tar")
    if tar is None:
        raise CreatureError("tar is not installed (Debian package tar)")
    run([tar, "--numeric-owner", "--xattrs", "--xattrs-include=*", *args], timeout=TIMEOUT, on_line=on_line)


class DebootstrapOptions(BaseModel):
    """debootstrap's options: a suite it has a script for, a variant, extra packages, the mirror, the architecture."""

    model_config = ConfigDict(extra="forbid")

    suite: str | None = Field(default=None, description="Debian suite, like bookworm (required)")
    variant: str = Field(default="minbase", description="debootstrap variant (minbase, buildd, fakechroot, default)")
    include: list[str] = Field(default_factory=list, description="extra packages, PKG,... (an init package replaces sysvinit-core)")
    mirror: str | None = Field(default=None, description="mirror URL (default: the one apt on this host uses)")
    arch: str | None = Field(default=None, description="architecture (default: the host's)")

    @field_validator("include", mode="before")
    @classmethod
    def _split(cls, value: Any) -> list[str]:
        items = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else list(value or [])
        bad = [p for p in items if not isinstance(p, str) or not PACKAGE_RE.match(p)]
        if bad:
            raise ValueError(f"invalid package name {bad[0]!r} in --include")
        return sorted(set(items))

    @field_validator("variant")
    @classmethod
    def _variant(cls, value: str) -> str:
        if value not in VARIANTS:
            raise ValueError(f"unknown variant {value!r} (known: {', '.join(VARIANTS)})")
        return value

    @model_validator(mode="after")
    def _complete(self) -> DebootstrapOptions:
        if not self.suite:
            raise ValueError("method 'debootstrap' needs a suite: --suite bookworm")
        if not SCRIPTS.is_dir():
            raise ValueError("debootstrap is not installed (Debian package debootstrap)")
        if "/" in self.suite or not (SCRIPTS / self.suite).is_file():
            raise ValueError(f"unknown suite {self.suite!r}: debootstrap has no script for it (see {SCRIPTS})")
        mirror = self.mirror or host_mirror(self.suite)
        if not re.match(r"^(https?|file)://\S+$", mirror):
            raise ValueError(f"invalid mirror {mirror!r}: give an http://, https:// or file:// URL")
        self.mirror = mirror.rstrip("/")
        arch = self.arch or run(["dpkg", "--print-architecture"]).stdout.strip()
        if not ARCH_RE.match(arch):
            raise ValueError(f"invalid architecture {arch!r}")
        self.arch = arch
        return self


class DebootstrapBootstrapper(Bootstrapper):
    """Debian (or a derivative) from a mirror with debootstrap, bootable as a container or VM guest."""

    name = "debootstrap"
    description = "debootstrap a Debian suite; cached by suite, variant, architecture and packages"
    options_model = DebootstrapOptions

    def _argv(self, options: dict[str, Any], pkgs: list[str], *extra: str) -> list[str]:
        debootstrap = which("debootstrap")
        if debootstrap is None:
            raise CreatureError("debootstrap is not installed (Debian package debootstrap)")
        argv = [debootstrap, f"--arch={options['arch']}", f"--include={','.join(pkgs)}"]
        if options["variant"] != "default":
            argv.append(f"--variant={options['variant']}")
        return argv + list(extra)

    def build(self, rootfs: Path, options: dict[str, Any]) -> dict[str, Any]:
        pkgs = packages(options["include"])
        key = cache_key(options["suite"], options["variant"], options["arch"], pkgs)
        cache = shared_cache() / "debootstrap"
        cache.mkdir(mode=0o700, exist_ok=True)
        debs, tree = cache / f"{key}.debs.tgz", cache / f"{key}.rootfs.tar"
        suite, mirror = options["suite"], options["mirror"]
        hit = "rootfs"
        with file_lock(cache / "builds.lock"):
            for leftover in cache.glob(".*"):
                remove_tree(leftover)  # partial files of a killed build: with the lock held, nobody else is writing
            if not tree.exists():
                hit = "packages" if debs.exists() else "none"
                if not debs.exists():
                    work = cache / f".{key}.work.{os.getpid()}"
                    partial = cache / f".{key}.debs.{os.getpid()}.tgz"
                    try:
                        with progress(f"debootstrap {suite}: downloading") as p:
                            run(self._argv(options, pkgs, f"--make-tarball={partial}", suite, str(work), mirror),
                                timeout=TIMEOUT, on_line=p.update)
                        os.chmod(partial, 0o600)
                        os.rename(partial, debs)
                    finally:
                        partial.unlink(missing_ok=True)
                        remove_tree(work)
                with progress(f"debootstrap {suite}: installing") as p:
                    run(self._argv(options, pkgs, f"--unpack-tarball={debs}", suite, str(rootfs), mirror),
                        timeout=TIMEOUT, on_line=p.update)
                partial = cache / f".{key}.rootfs.{os.getpid()}.tar"
                try:
                    with progress(f"debootstrap {suite}: caching the root filesystem") as p:
                        _tar("-C", str(rootfs), "-cpf", str(partial), ".", on_line=p.update)
                    os.chmod(partial, 0o600)
                    os.rename(partial, tree)
                finally:
                    partial.unlink(missing_ok=True)
            else:
                with progress(f"debootstrap {suite}: unpacking the cached root filesystem") as p:
                    _tar("-C", str(rootfs), "-xpf", str(tree), on_line=p.update)
        configure(rootfs, suite, mirror)
        meta = describe(rootfs)
        meta.update({"suite": suite, "variant": options["variant"], "arch": options["arch"], "mirror": mirror,
                     "packages": pkgs, "cache_key": key, "cache_hit": hit})
        return meta


def configure(rootfs: Path, suite: str, mirror: str) -> None:
    """Make a fresh debootstrap tree a template: clean shutdown on SIGPWR, no stray gettys, clone-unique ids."""
    inittab = rootfs / "etc/inittab"
    if inittab.is_file():
        lines = []
        for line in inittab.read_text().splitlines():
            fields = line.split(":")
            if len(fields) >= 4 and fields[2] in ("powerwait", "powerfailnow", "powerokwait"):
                continue  # /etc/init.d/powerfail is long gone; LXC's SIGPWR must mean "halt"
            if len(fields) >= 4 and fields[2] == "respawn" and fields[0] in ("2", "3", "4", "5", "6"):
                line = "#" + line  # containers have one tty; VMs use the serial console
            lines.append(line)
        lines.append("p0::powerfail:/sbin/init 0")
        inittab.write_text("\n".join(lines) + "\n")
    halt = rootfs / "etc/default/halt"
    if halt.is_file():
        # `halt -i` downs every interface it sees: in a container sharing the host's network, the host's
        text = re.sub(r"(?m)^NETDOWN=.*$", "NETDOWN=no", halt.read_text())
        halt.write_text(text if "NETDOWN=no" in text else text + "NETDOWN=no\n")
    (rootfs / "etc/apt/sources.list").write_text(f"deb {mirror} {suite} main\n")
    (rootfs / "etc/hostname").write_text("debian\n")
    interfaces = rootfs / "etc/network/interfaces"
    if interfaces.parent.is_dir():
        interfaces.write_text("auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n")
    for rel in ("etc/machine-id", "var/lib/dbus/machine-id"):
        path = rootfs / rel
        if path.is_file() and not path.is_symlink():
            path.write_text("")  # each clone's first boot makes its own
    archives = rootfs / "var/cache/apt/archives"
    for deb in archives.glob("*.deb") if archives.is_dir() else []:
        deb.unlink()
