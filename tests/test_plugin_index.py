"""The plugin index: later runs import no plugin up front, and any change to the plugins is seen at once."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""\
    import json, sys
    from creature.plugins import Plugins
    p = Plugins()
    registry = p.registry()
    print(json.dumps({"stevedore": "stevedore" in sys.modules, "pluggy": "pluggy" in sys.modules,
                      "lxc_plugin": "creature_lxc.plugin" in sys.modules,
                      "drivers": registry.names(), "failures": [f.name for f in p.failures]}))
    """)


def probe(index_dir, extra_path=None, code=PROBE):
    env = {**os.environ, "CREATURE_PLUGIN_INDEX_DIR": str(index_dir), "CREATURE_STRICT_PLUGINS": "0"}
    env.pop("CREATURE_NO_PLUGIN_INDEX", None)
    if extra_path:
        env["PYTHONPATH"] = str(extra_path)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def write_plugin(site, drivers, fail=False):
    """A distribution in its own folder (dist-info by hand, as pip writes it) registering the given driver names."""
    dist = site / "creature_idx-1.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: creature-idx\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[creature]\nidx = creature_idx\n")
    body = "raise ImportError('creature_idx needs libidx')\n" if fail else ""
    body += "from creature.hookspecs import hookimpl\n\n@hookimpl\ndef creature_register_drivers(register):\n"
    body += "".join(f"    register('creature_idx_{d}:Driver', name={d!r})\n" for d in drivers)
    module = site / "creature_idx.py"
    before = module.stat().st_mtime_ns if module.exists() else 0
    module.write_text(body)
    os.utime(module, ns=(before + 10**9, before + 10**9))  # a new mtime even within one clock tick


def test_second_run_imports_no_plugin_and_knows_every_driver(tmp_path):
    first = probe(tmp_path)
    assert first["stevedore"] and first["lxc_plugin"]
    assert list(tmp_path.glob("plugins-*.json")), "a full load writes the index"
    second = probe(tmp_path)
    assert not second["stevedore"] and not second["pluggy"] and not second["lxc_plugin"]
    assert second["drivers"] == first["drivers"] and "lxc" in second["drivers"]


def test_a_changed_plugin_module_is_seen_at_once(tmp_path):
    site, index = tmp_path / "site", tmp_path / "index"
    write_plugin(site, ["idxa"])
    assert "idxa" in probe(index, site)["drivers"]
    assert not probe(index, site)["stevedore"]
    write_plugin(site, ["idxa", "idxb"])
    again = probe(index, site)
    assert again["stevedore"], "a changed plugin module makes a full load"
    assert {"idxa", "idxb"} <= set(again["drivers"])


def test_an_installed_or_removed_distribution_is_seen_at_once(tmp_path):
    site, index = tmp_path / "site", tmp_path / "index"
    site.mkdir()
    assert "idxa" not in probe(index, site)["drivers"]
    write_plugin(site, ["idxa"])  # a new dist-info in a folder on sys.path changes the folder's mtime
    assert "idxa" in probe(index, site)["drivers"]
    for f in sorted(site.rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    assert "idxa" not in probe(index, site)["drivers"]


def test_nothing_is_recorded_while_a_plugin_fails(tmp_path):
    site, index = tmp_path / "site", tmp_path / "index"
    write_plugin(site, ["idxa"], fail=True)
    assert probe(index, site)["failures"] == ["idx"]
    assert not list(index.glob("plugins-*.json"))
    second = probe(index, site)
    assert second["stevedore"] and second["failures"] == ["idx"], "a failing environment is loaded in full every time"
    write_plugin(site, ["idxa"])
    fixed = probe(index, site)
    assert fixed["failures"] == [] and "idxa" in fixed["drivers"]


def test_hooks_load_only_their_implementers(tmp_path):
    code = textwrap.dedent("""\
        import json, sys
        from creature.plugins import Plugins
        p = Plugins()
        methods = [name for name, _ in p.each("creature_register_bootstrappers")]
        builtins = sorted(m for m in sys.modules if m.startswith("creature.builtin.") and m.endswith(".plugin"))
        print(json.dumps({"methods": methods, "builtins": builtins, "lxc_plugin": "creature_lxc.plugin" in sys.modules}))
        """)
    probe(tmp_path)
    result = probe(tmp_path, code=code)
    assert result["methods"] == ["creature.builtin.bootstrap.plugin"] and not result["lxc_plugin"]
    assert result["builtins"] == ["creature.builtin.bootstrap.plugin"], "only the hook's implementers were imported"


def test_builtin_hooks_table_matches_the_builtin_modules():
    import importlib

    from creature.builtin import DEFAULT_PLUGINS

    for name, hooks in DEFAULT_PLUGINS.items():
        module = importlib.import_module(name)
        assert set(hooks) == {n for n in vars(module) if n.startswith("creature_")}, name


def test_builtin_only_when_filters_match_what_the_hooks_do():
    """A builtin hook called with a value its ONLY_WHEN leaves out does nothing at all (so skipping it changes nothing)."""
    import importlib
    from pathlib import Path

    from creature.builtin import DEFAULT_PLUGINS, ONLY_WHEN
    from creature.records import Machine, MachineSpec, Nic

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"the hook used api.{name}")

    machine = Machine(MachineSpec(name="m", template="bb", driver="lxc", nics=(Nic("net0", "52:54:00:00:00:01"),)), Path("/m"))
    words = {"event": ("created", "started", "stopped", "killed", "destroyed", "migrated", "failed-over", "crashed")}
    for (name, hook), (argument, values) in ONLY_WHEN.items():
        assert hook in DEFAULT_PLUGINS[name]
        function = getattr(importlib.import_module(name), hook)
        for word in words[argument]:
            kwargs = {"api": Untouchable(), "machine": machine, argument: word}
            if word in values:
                with pytest.raises(AssertionError, match="the hook used api"):
                    function(**kwargs)  # it acts on these (a filter wider than the hook would go unnoticed otherwise)
            else:
                assert function(**kwargs) is None
