"""Fetching a UML kernel that runs on every CPU of this kind: Debian testing's user-mode-linux, kept by version.

Why this and not a kernel built here: the fix UML needs for CPUs with AMX (an XSAVE area as large as the
host's) is in no kernel source Debian 12 carries (its 6.1, and 6.12 from Debian 13, both fail), and building
one takes many minutes on two cores; Debian testing's package (7.2um1 when this was written) works and is a
38 MB download. Its binary wants a newer glibc than Debian 12's, so the libc6 package of the same suite is
unpacked beside it and patchelf points the kernel's interpreter and library path there. apt runs with its
own sources list and state folders: the host's apt setup and packages are not touched.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from creature.sdk import CreatureError, InputError, file_lock, host_mirror, run, which, write_private

from creature_uml.kernels import Kernel, fetched_kernels, fetched_root, verdict

PACKAGES = ("user-mode-linux", "libc6")
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
LIBDIR = "usr/lib/x86_64-linux-gnu"
TIMEOUT = 600


def _tool(name: str, package: str) -> str:
    path = which(name)
    if path is None:
        raise CreatureError(f"{name} is not installed (Debian package {package})")
    return path


def _apt_options(root: Path) -> list[str]:
    """apt with nothing of the host's configuration, sources or state: everything under root."""
    return [
        "-o", f"Dir::Etc={root / 'etc'}", "-o", f"Dir::Etc::SourceList={root / 'etc' / 'sources.list'}",
        "-o", "Dir::Etc::SourceParts=/dev/null", "-o", "Dir::Etc::Preferences=/dev/null",
        "-o", "Dir::Etc::PreferencesParts=/dev/null", "-o", f"Dir::State={root / 'state'}",
        "-o", f"Dir::State::Lists={root / 'lists'}", "-o", f"Dir::State::status={root / 'status'}",
        "-o", f"Dir::Cache={root / 'cache'}", "-o", "APT::Architecture=amd64", "-o", "Acquire::Languages=none",
        "-o", "APT::Sandbox::User=root",
    ]


def _package_versions(apt_cache: str, options: list[str]) -> dict[str, str]:
    shown = run([apt_cache, *options, "show", "--no-all-versions", *PACKAGES], timeout=120).stdout
    versions, package = {}, None
    for line in shown.splitlines():
        if line.startswith("Package: "):
            package = line.split(": ", 1)[1]
        elif line.startswith("Version: ") and package and package not in versions:
            versions[package] = line.split(": ", 1)[1]
    missing = [p for p in PACKAGES if p not in versions]
    if missing:
        raise CreatureError(f"the suite has no {', '.join(missing)} for amd64")
    return versions


def fetch(suite: str = "testing", mirror: str | None = None, if_missing: bool = False, say=print) -> Kernel:
    """Put the suite's user-mode-linux (with its libc) into fetched_root()/VERSION and judge it by booting it."""
    if if_missing:
        have = fetched_kernels()
        if have:
            say(f"a fetched UML kernel is already cached: {have[0].path} ({have[0].origin}); not looking for a newer one")
            return have[0]
    mirror = (mirror or host_mirror(suite)).rstrip("/")
    if not mirror.startswith(("http://", "https://", "file://")):
        raise InputError(f"invalid mirror {mirror!r}: give an http://, https:// or file:// URL")
    arch = run([_tool("dpkg", "dpkg"), "--print-architecture"], timeout=10).stdout.strip()
    if arch != "amd64":
        raise InputError(f"UML kernels are fetched for amd64 only; this host is {arch}")
    if not KEYRING.exists():
        raise CreatureError(f"{KEYRING} is missing (Debian package debian-archive-keyring): cannot check the suite's signature")
    apt_get, apt_cache = _tool("apt-get", "apt"), _tool("apt-cache", "apt")
    dpkg_deb, patchelf = _tool("dpkg-deb", "dpkg"), _tool("patchelf", "patchelf")
    root = fetched_root()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    with file_lock(root / ".fetch.lock"):
        return _fetch(root, suite, mirror, say, (apt_get, apt_cache, dpkg_deb, patchelf))


def _fetch(root: Path, suite: str, mirror: str, say, tools: tuple[str, str, str, str]) -> Kernel:
    apt_get, apt_cache, dpkg_deb, patchelf = tools
    work = root / f".fetch-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        for sub in ("etc", "state", "lists/partial", "cache/archives/partial", "debs"):
            (work / sub).mkdir(mode=0o700, parents=True)
        (work / "status").touch()
        # the archive's signature is checked; Valid-Until is not: the archive copy a machine reaches may be older
        write_private(work / "etc" / "sources.list",
                      f"deb [signed-by={KEYRING} check-valid-until=no] {mirror} {suite} main\n")
        options = _apt_options(work)
        say(f"reading the package index of {mirror} {suite}")
        run([apt_get, *options, "-q", "update"], timeout=TIMEOUT)
        versions = _package_versions(apt_cache, options)
        version = versions["user-mode-linux"]
        final = root / version
        if (final / "linux.uml").is_file():
            say(f"user-mode-linux {version} is already cached in {final}")
            return Kernel(final / "linux.uml", f"fetched: Debian {suite} user-mode-linux {version}")
        say(f"downloading user-mode-linux {version} and libc6 {versions['libc6']}")
        pinned = [f"{p}={versions[p]}" for p in PACKAGES]
        run([apt_get, *options, "-q", "download", *pinned], timeout=TIMEOUT, cwd=work / "debs")
        install(work / "debs", final, {"suite": suite, "mirror": mirror, "version": version, "libc6": versions["libc6"]},
                (dpkg_deb, patchelf))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    kernel = Kernel(final / "linux.uml", f"fetched: Debian {suite} user-mode-linux {version}")
    judged = verdict(kernel, fresh=True)
    say(judged.reason)
    return kernel



def install(debs: Path, final: Path, source: dict, tools: tuple[str, str] | None = None) -> None:
    """Unpack the user-mode-linux and libc6 packages in debs into final: the kernel, its libc, its modules.

    Made beside final and renamed into place, so a kernel folder is there whole or not at all.
    """
    dpkg_deb, patchelf = tools or (_tool("dpkg-deb", "dpkg"), _tool("patchelf", "patchelf"))
    work = final.parent / f".install-{final.name}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        unpacked, staged = work / "unpacked", work / "kernel"
        unpacked.mkdir(parents=True)
        for deb in sorted(debs.glob("*.deb")):
            run([dpkg_deb, "-x", str(deb), str(unpacked)], timeout=TIMEOUT)
        staged.mkdir(mode=0o755)
        shutil.copy2(unpacked / "usr/bin/linux.uml", staged / "linux.uml")
        shutil.copytree(unpacked / LIBDIR, staged / "lib", symlinks=True)
        modules = unpacked / "usr/lib/uml/modules"
        if modules.is_dir():
            shutil.copytree(modules, staged / "modules", symlinks=True)
        # the paths the kernel will have once renamed into place (the loader's path is absolute in the binary)
        run([patchelf, "--set-interpreter", str(final / "lib" / "ld-linux-x86-64.so.2"),
             "--set-rpath", str(final / "lib"), str(staged / "linux.uml")], timeout=60)
        write_private(staged / "source.json", json.dumps(source | {"fetched": time.time()}, indent=1), mode=0o644)
        os.chmod(staged, 0o755)
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.rename(staged, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
