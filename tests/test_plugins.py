"""Plugin discovery: installed distributions, load failures isolated, strict mode, disabling."""

import subprocess
import sys
import textwrap

import pytest

NON_STRICT = {"CREATURE_STRICT_PLUGINS": "0"}


def test_plugins_lists_lxc_with_version_and_driver(creature_cli):
    rows = creature_cli.ok("plugins", "--format", "json", env=NON_STRICT).json()
    lxc = next(r for r in rows if r["distribution"] == "creature-lxc")
    assert lxc["status"] == "loaded"
    assert lxc["version"] == "0.1.0"
    assert "lxc" in lxc["drivers"]
    builtin = {r["name"]: r for r in rows if r["distribution"] == "creature"}
    from creature.builtin import DEFAULT_PLUGINS

    assert set(builtin) == set(DEFAULT_PLUGINS), "each of creature's own plugins is listed, loaded"
    assert all(r["status"] == "loaded" for r in builtin.values())
    assert {"busybox", "debootstrap", "tarball"} <= set(builtin["creature.builtin.bootstrap.plugin"]["methods"])


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory):
    """A throwaway distribution, installed with pip into its own folder, whose entry point raises ImportError."""
    src = tmp_path_factory.mktemp("broken-src")
    (src / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "creature-broken"
        version = "9.9.9"
        [project.entry-points.creature]
        broken = "creature_broken"
        [tool.setuptools]
        py-modules = ["creature_broken"]
        """))
    (src / "creature_broken.py").write_text("raise ImportError('creature_broken needs libbroken, which is not installed')\n")
    site = tmp_path_factory.mktemp("broken-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site), str(src)],
                   check=True, capture_output=True)
    return site


def test_broken_plugin_is_recorded_and_isolated(creature_cli, broken_site):
    env = {"PYTHONPATH": str(broken_site), **NON_STRICT}
    rows = creature_cli.ok("plugins", "--format", "json", env=env).json()
    broken = next(r for r in rows if r["name"] == "broken")
    assert broken["status"] == "failed"
    assert broken["distribution"] == "creature-broken"
    assert "ImportError" in broken["error"] and "libbroken" in broken["error"]
    assert any(r["distribution"] == "creature-lxc" and r["status"] == "loaded" for r in rows)
    # every other command still works
    report = creature_cli.ok("host", "check", "--format", "json", env=env).json()
    assert report["plugin_failures"][0]["name"] == "broken"
    assert "lxc" in report["drivers"]
    creature_cli.ok("template", "build", "bb", "--method", "busybox", env=env)
    assert creature_cli.ok("list", "--format", "json", env=env).json() == []


def test_strict_mode_makes_a_load_failure_fatal(creature_cli, broken_site):
    result = creature_cli("list", env={"PYTHONPATH": str(broken_site), "CREATURE_STRICT_PLUGINS": "1"})
    assert result.code != 0
    assert result.err.startswith("creature: error: plugin 'broken' from creature-broken failed to load")
    assert "Traceback" not in result.err


def test_disabled_plugin_is_not_loaded(creature_cli):
    env = {"CREATURE_DISABLE_PLUGINS": "lxc", **NON_STRICT}
    rows = creature_cli.ok("plugins", "--format", "json", env=env).json()
    lxc = next(r for r in rows if r["name"] == "lxc")
    assert lxc["status"] == "disabled"
    report = creature_cli.ok("host", "check", "--format", "json", env=env).json()
    assert "lxc" not in report["drivers"]
    bad = creature_cli("create", "x", "--driver", "lxc", "--template", "bb", env=env)
    assert bad.code == 2 and "unknown driver 'lxc'" in bad.err


def test_duplicate_driver_names_name_both_distributions():
    from creature.drivers import Driver
    from creature.errors import CreatureError
    from creature.registry import DriverRegistry

    class One(Driver):
        name = "same"

    class Two(Driver):
        name = "same"

    registry = DriverRegistry()
    registry.register(One, "creature-one")
    with pytest.raises(CreatureError, match="registered twice: by creature-one and by creature-two"):
        registry.register(Two, "creature-two")


def test_default_driver_is_priority_not_registration_order(creature_home, monkeypatch):
    """CREATURE_DRIVER wins; without it the usable driver with the highest priority."""
    from creature.api import Creature
    from creature.drivers import Check, Driver, Probe

    class Low(Driver):
        name, priority = "low", 1

        def probe(self, host):
            return Probe.of(self.name, [Check(name="x", ok=True, reason="fine")])

    class High(Low):
        name, priority = "high", 100000

    class Broken(Low):
        name, priority = "broken", 100001

        def probe(self, host):
            return Probe.of(self.name, [Check(name="x", ok=False, reason="missing")])

    api = Creature(creature_home)
    api.registry.register(Low, "t")
    api.registry.register(Broken, "t")
    api.registry.register(High, "t")
    monkeypatch.delenv("CREATURE_DRIVER", raising=False)
    assert api.default_driver() == "high"
    monkeypatch.setenv("CREATURE_DRIVER", "low")
    assert api.default_driver() == "low"
