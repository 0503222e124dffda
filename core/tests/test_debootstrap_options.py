"""debootstrap method options: the host's apt mirror, package sets and cache keys (no network needed)."""

from pathlib import Path

import pytest
from creature.builtin.bootstrap.debootstrap import DEFAULT_MIRROR, DebootstrapBootstrapper, cache_key, host_mirror, packages
from creature.errors import InputError


def _apt(tmp_path: Path, files: dict[str, str]) -> Path:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    for rel, text in files.items():
        (apt / rel).write_text(text)
    return apt


def test_mirror_from_deb822_sources_skips_security_and_disabled(tmp_path):
    apt = _apt(tmp_path, {"sources.list.d/debian.sources": (
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )})
    assert host_mirror("bookworm", apt) == "http://mirror.example/debian"
    # another suite: the host's main archive, not its security one
    assert host_mirror("trixie", apt) == "http://mirror.example/debian"


def test_mirror_from_one_line_sources_list(tmp_path):
    apt = _apt(tmp_path, {"sources.list": (
        "# deb http://commented.example/debian bookworm main\n"
        "deb [signed-by=/usr/share/keyrings/k.gpg arch=amd64] http://one.example/debian bookworm main\n"
    )})
    assert host_mirror("bookworm", apt) == "http://one.example/debian"


def test_mirror_default_without_sources(tmp_path):
    assert host_mirror("bookworm", _apt(tmp_path, {})) == DEFAULT_MIRROR


def test_package_set_adds_an_init_unless_one_is_named():
    assert "sysvinit-core" in packages([])
    with_systemd = packages(["systemd-sysv", "openssh-server"])
    assert "systemd-sysv" in with_systemd and "sysvinit-core" not in with_systemd
    assert {"ifupdown", "isc-dhcp-client", "procps", "iproute2", "openssh-server"} <= set(with_systemd)


def test_cache_key_depends_on_suite_variant_arch_and_package_set_only():
    key = cache_key("bookworm", "minbase", "amd64", ["b", "a"])
    assert key == cache_key("bookworm", "minbase", "amd64", ["a", "b"])
    assert key.startswith("bookworm-minbase-amd64-")
    assert len({key, cache_key("bullseye", "minbase", "amd64", ["a", "b"]), cache_key("bookworm", "buildd", "amd64", ["a", "b"]),
                cache_key("bookworm", "minbase", "arm64", ["a", "b"]), cache_key("bookworm", "minbase", "amd64", ["a"])}) == 5


def test_validate_normalises_options():
    if not Path("/usr/share/debootstrap/scripts/bookworm").exists():
        pytest.skip("debootstrap is not installed (Debian package debootstrap)")
    method = DebootstrapBootstrapper(None)
    options = method.validate({"suite": "bookworm", "include": "vim, less,vim", "mirror": "http://m.example/debian/"})
    assert options["include"] == ["less", "vim"] and options["variant"] == "minbase"
    assert options["mirror"] == "http://m.example/debian" and options["arch"]
    for bad, message in (({"suite": "../bookworm"}, "unknown suite"), ({"suite": "bookworm", "arch": "AMD 64"}, "invalid architecture"),
                         ({"suite": "bookworm", "colour": "red"}, "does not take colour")):
        with pytest.raises(InputError, match=message):
            method.validate(bad)

