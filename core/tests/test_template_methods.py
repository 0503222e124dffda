"""Bootstrap methods as plugins, the tarball method, and template listing and removal."""

import os
import stat
import tarfile

import pytest
from creature.errors import InputError
from creature.hookspecs import hookimpl
from creature.procs import run
from creature.templates import Bootstrapper
from creature.testing import snapshot
from pydantic import BaseModel, ConfigDict, Field, field_validator


def test_core_registers_its_methods_through_the_hook(creature_api):
    methods = creature_api.bootstrappers()
    assert {"busybox", "debootstrap", "tarball"} <= set(methods)
    # each came through creature_register_bootstrappers, from the core's own plugin module
    registered = {name for name, _fn in creature_api.plugins.each("creature_register_bootstrappers")}
    assert "creature.builtin.bootstrap.plugin" in registered


class ScratchOptions(BaseModel):
    """The scratch method's options: typed, so `template build` offers --flavour."""

    model_config = ConfigDict(extra="forbid")

    flavour: str = Field(default="plain", description="the flavour written into os-release")

    @field_validator("flavour")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in ("plain", "mint"):
            raise ValueError(f"unknown flavour {value!r}")
        return value


class ScratchBootstrapper(Bootstrapper):
    """A third party's method: a hand-made rootfs with an os-release (stands for e.g. an Alpine method)."""

    name = "scratch"
    options_model = ScratchOptions

    def build(self, rootfs, options):
        (rootfs / "etc").mkdir()
        (rootfs / "etc/os-release").write_text(f'ID=scratch\nVERSION_ID="{options["flavour"]}"\n')
        from creature.builtin.bootstrap.osinfo import describe

        return describe(rootfs) | {"flavour": options["flavour"]}


class ScratchPlugin:
    """A plugin object, registered with pluggy the way an entry-point module is."""

    @hookimpl
    def creature_register_bootstrappers(self, register):
        register(ScratchBootstrapper)


@pytest.fixture
def plugins_with_scratch():
    from creature.plugins import Plugins

    plugins = Plugins()
    plugins.pm.register(ScratchPlugin(), name="scratch-plugin")
    return plugins


def test_third_party_method_registered_through_pluggy(creature_home, plugins_with_scratch):
    from creature.api import Creature

    api = Creature(creature_home, plugins=plugins_with_scratch)
    assert "scratch" in api.bootstrappers()
    t = api.templates.build("s1", "scratch", {"flavour": "mint"})
    assert (t.meta["os"], t.meta["version"], t.meta["flavour"]) == ("scratch", "mint", "mint")
    assert (api.templates.get("s1").rootfs / "etc/os-release").is_file()
    with pytest.raises(InputError, match="method 'scratch' does not take colour"):
        api.templates.build("s2", "scratch", {"colour": "red"})
    with pytest.raises(InputError, match="unknown flavour 'salt'"):
        api.templates.build("s2", "scratch", {"flavour": "salt"})
    assert [x.name for x in api.templates.list()] == ["s1"]
    api.inventory.close()


def test_a_method_registered_twice_names_both(creature_home, plugins_with_scratch):
    from creature.api import Creature
    from creature.errors import CreatureError

    plugins_with_scratch.pm.register(ScratchPlugin(), name="scratch-again")
    with pytest.raises(CreatureError, match="'scratch' is registered twice"):
        Creature(creature_home, plugins=plugins_with_scratch).bootstrappers()


@pytest.fixture
def rootfs_tarball(creature_api, tmp_path):
    """A real rootfs tarball (the busybox template's tree plus a kernel and initrd in /boot), made with tar."""
    t = creature_api.templates.build("bb", "busybox")
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "vmlinuz-6.1.0-99-amd64").write_bytes(b"kernel bytes")
    (boot / "initrd.img-6.1.0-99-amd64").write_bytes(b"initrd bytes")
    (tmp_path / "owned").write_text("games\n")
    os.chown(tmp_path / "owned", 5, 60)
    archive = tmp_path / "rootfs.tar.gz"
    run(["tar", "--numeric-owner", "-C", str(t.rootfs), "-czf", str(archive), ".",
         "--transform", "s,^\\./,,", "-C", str(tmp_path), "boot", "owned"])
    return archive


def test_tarball_method_imports_a_rootfs(creature_cli, creature_api, rootfs_tarball):
    out = creature_cli.ok("template", "build", "imported", "--method", "tarball", "--from", str(rootfs_tarball)).out
    assert "template imported built (tarball" in out
    t = creature_api.templates.get("imported")
    assert t.options == {"from": str(rootfs_tarball)}
    assert (t.meta["init_system"], t.meta["halt_signal"]) == ("busybox", "SIGUSR2")
    # kernel and initrd for direct boot, recorded as host paths inside the template
    assert t.meta["kernel"] == str(t.rootfs / "boot/vmlinuz-6.1.0-99-amd64")
    assert t.meta["initrd"] == str(t.rootfs / "boot/initrd.img-6.1.0-99-amd64")
    assert open(t.meta["kernel"], "rb").read() == b"kernel bytes"
    owned = (t.rootfs / "owned").stat()
    assert (owned.st_uid, owned.st_gid) == (5, 60)
    assert stat.S_IMODE((t.rootfs / "root").stat().st_mode) == 0o700
    assert os.readlink(t.rootfs / "bin/sh") == "/bin/busybox"


def test_boot_files_come_from_the_template_or_the_host(creature_cli, creature_api, rootfs_tarball):
    from pathlib import Path

    from creature.builtin.support.images import boot_files

    creature_cli.ok("template", "build", "withkernel", "--method", "tarball", "--from", str(rootfs_tarball))
    kernel, initrd, source = boot_files(creature_api.templates.get("withkernel"))
    assert source == "template" and kernel.name == "vmlinuz-6.1.0-99-amd64" and initrd.name == "initrd.img-6.1.0-99-amd64"
    if not list(Path("/boot").glob("vmlinuz-*")):
        pytest.skip("this host has no kernel in /boot to fall back on")
    kernel, _initrd, source = boot_files(creature_api.templates.get("bb"))
    assert source == "host" and kernel.parent == Path("/boot") and kernel.is_file()


def test_newest_kernel_is_chosen_by_version(tmp_path):
    from creature.builtin.bootstrap.osinfo import boot_files

    boot = tmp_path / "boot"
    boot.mkdir()
    for version in ("6.1.0-9-amd64", "6.1.0-10-amd64"):
        (boot / f"vmlinuz-{version}").write_bytes(b"k")
    (boot / "initrd.img-6.1.0-10-amd64").write_bytes(b"i")
    assert boot_files(tmp_path) == {"kernel": "boot/vmlinuz-6.1.0-10-amd64", "initrd": "boot/initrd.img-6.1.0-10-amd64"}


@pytest.mark.parametrize("make, message", [
    (None, "does not exist"),
    ("notrootfs", "is not a root filesystem"),
    ("garbage", "tar failed"),
])
def test_bad_tarball_leaves_nothing(creature_cli, creature_home, tmp_path, make, message):
    creature_cli.ok("template", "build", "bb", "--method", "busybox")
    path = tmp_path / "in.tar"
    if make == "notrootfs":
        (tmp_path / "readme").write_text("hello\n")
        with tarfile.open(path, "w") as tar:
            tar.add(tmp_path / "readme", arcname="readme")
    elif make == "garbage":
        path.write_bytes(os.urandom(4096))
    before = snapshot(creature_home)
    r = creature_cli("template", "build", "imp", "--method", "tarball", "--from", str(path))
    assert r.code == (1 if make == "garbage" else 2), r.err
    assert message in r.err and r.err.startswith("creature: error: ") and r.err.strip().count("\n") == 0
    assert snapshot(creature_home) == before
    assert not list((creature_home / "staging").iterdir())


def test_methods_reject_options_of_other_methods(creature_cli, creature_home):
    before = snapshot(creature_home)
    r = creature_cli("template", "build", "t", "--method", "busybox", "--suite", "bookworm")
    assert r.code == 2 and "takes no options (got suite)" in r.err
    r = creature_cli("template", "build", "t", "--method", "tarball")
    assert r.code == 2 and "needs a file: --from FILE" in r.err
    r = creature_cli("template", "build", "t", "--method", "debootstrap")
    assert r.code == 2 and "needs a suite" in r.err
    assert snapshot(creature_home) == before


def test_list_shows_method_suite_size_created_and_users(creature_cli, lxc_usable):
    creature_cli.ok("template", "build", "bb", "--method", "busybox")
    creature_cli.ok("create", "m1", "--driver", "lxc", "--template", "bb")
    creature_cli.ok("create", "m2", "--driver", "lxc", "--template", "bb")
    [row] = creature_cli.ok("template", "list", "--format", "json").json()
    assert (row["name"], row["method"], row["suite"], row["machines"]) == ("bb", "busybox", None, ["m1", "m2"])
    assert row["size"] > 1024 * 1024 and row["created"].startswith("20")
    table = creature_cli.ok("template", "list").out
    for column in ("NAME", "METHOD", "SUITE", "SIZE", "CREATED", "MACHINES"):
        assert column in table
    assert "m1,m2" in table
    r = creature_cli("template", "rm", "bb")
    assert r.code == 2 and "used by m1, m2" in r.err
    creature_cli.ok("destroy", "m1")
    creature_cli.ok("destroy", "m2")
    creature_cli.ok("template", "rm", "bb")
    assert creature_cli.ok("template", "list", "--format", "json").json() == []


def test_template_build_flags_come_from_the_methods_options(creature_cli):
    """No method's flag is written into the core CLI: each comes from a method's options model."""
    from creature.builtin.bootstrap.debootstrap import DebootstrapOptions
    from creature.builtin.bootstrap.tarball import TarballOptions

    help_text = creature_cli.ok("template", "build", "--help").out
    for model in (DebootstrapOptions, TarballOptions):
        for name, field in model.model_fields.items():
            flag = f"--{(field.alias or name).replace('_', '-')}"
            assert flag in help_text, f"{flag} missing from `template build --help`"
            assert field.description.split(" (")[0] in " ".join(help_text.split())
    import inspect

    from creature.builtin.commands import templates

    source = inspect.getsource(templates)
    for flag in ("--suite", "--variant", "--include", "--mirror", "--from"):
        assert f'"{flag}"' not in source, f"{flag} is hard-coded in the core CLI"
