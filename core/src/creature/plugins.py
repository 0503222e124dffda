"""Plugin discovery (stevedore, one entry point at a time) and dispatch (one pluggy PluginManager)."""

from __future__ import annotations

import os
from collections import namedtuple
from functools import cached_property

from creature.errors import CreatureError

GROUP = "creature"
# hooks whose first answer decides (hookspecs: firstresult=True); called with no implementer, they answer None
FIRSTRESULT = frozenset({"creature_assign_nics", "creature_host_api"})


# named tuples, not dataclasses: `show` and `list` load this module, and dataclasses (with inspect) costs them 8 ms
class LoadFailure(namedtuple("LoadFailure", ("name", "distribution", "error"))):
    """An entry point that could not be loaded, kept to be shown instead of crashing the tool."""


class Plugins:
    """Every creature plugin of this environment, dispatched through pluggy.

    With a valid plugin index (creature.plugin_index) nothing is imported up front: a plugin is
    imported when one of its hooks is called, a driver when it is used. Without one, every entry
    point is loaded through stevedore and the index is written for the next run.
    """

    def __init__(self, strict: bool | None = None, disabled: frozenset[str] | None = None):
        env = os.environ
        self.strict = env.get("CREATURE_STRICT_PLUGINS", "") not in ("", "0") if strict is None else strict
        self.disabled = frozenset(n.strip() for n in env.get("CREATURE_DISABLE_PLUGINS", "").split(",") if n.strip()) \
            if disabled is None else disabled
        self._setup()

    def _setup(self) -> None:
        from creature import plugin_index

        self.failures: list[LoadFailure] = []
        self.loaded: dict[str, object] = {}
        self.builtins: set[str] = set()
        self._pm = None
        self._all = False
        self._index = plugin_index.load(self.disabled)
        if self._index is None:
            self.load_all()

    @property
    def pm(self):
        """The pluggy PluginManager (made on first use; builtin plugins are registered as their hooks are called)."""
        if self._pm is None:
            import pluggy

            from creature import hookspecs

            self._pm = pluggy.PluginManager(GROUP)
            self._pm.add_hookspecs(hookspecs)
        return self._pm

    def _load_builtins(self, hook_name: str | None = None) -> None:
        """Register creature's own plugins (creature.builtin.DEFAULT_PLUGINS) that implement hook_name (None: all)."""
        import importlib

        from creature.builtin import DEFAULT_PLUGINS

        for name, hooks in DEFAULT_PLUGINS.items():
            if (hook_name is None or hook_name in hooks) and name not in self.builtins:
                self.builtins.add(name)
                self.pm.register(importlib.import_module(name), name=name)

    def load_all(self) -> None:
        """Load every entry point not loaded yet, each on its own (stevedore); a failure is recorded."""
        if self._all:
            return
        self._all = True
        self._load_builtins()
        from stevedore import ExtensionManager

        skip = self.disabled | set(self.loaded)
        failed_before = len(self.failures)

        class _Manager(ExtensionManager):
            def _load_one_plugin(self, ep, *args, **kwargs):
                if ep.name in skip:
                    return None
                return super()._load_one_plugin(ep, *args, **kwargs)

        def failed(_manager, ep, exc):
            self.failures.append(LoadFailure(ep.name, self.distribution_of(ep.name), f"{type(exc).__name__}: {exc}"))

        manager = _Manager(GROUP, on_load_failure_callback=failed)
        for ext in manager:
            self._register(ext.name, ext.plugin, lambda exc, ep=ext.entry_point: failed(manager, ep, exc))
        self._check_strict()
        if self._index is None and len(self.failures) == failed_before:
            self._write_index({ext.name: ext.entry_point.value for ext in manager})

    def _register(self, name: str, plugin: object, failed) -> None:
        try:
            self.pm.register(plugin, name=name)
            self.loaded[name] = plugin
        except Exception as exc:  # a malformed hookimpl must not take the tool down either
            failed(exc)

    def _check_strict(self) -> None:
        if self.strict and self.failures:
            f = self.failures[0]
            raise CreatureError(f"plugin {f.name!r} from {f.distribution} failed to load: {f.error}")

    def _write_index(self, values: dict[str, str]) -> None:
        from creature import plugin_index

        plugins = {}
        for name, value in values.items():
            module = self.loaded[name]
            hooks = sorted(h.name for h in self.pm.get_hookcallers(module) or [])
            plugins[name] = {"value": value, "file": getattr(module, "__file__", None), "hooks": hooks,
                             "distribution": self.distribution_of(name), "version": self.version_of(name)}
        before = len(self.failures)
        try:
            registry = self._registry_from_hooks()
        except CreatureError:
            return  # a duplicate driver name is reported by every run until it is fixed
        finally:
            failed = self.failures[before:]
            del self.failures[before:]  # registry() reports them again, once
        if not self.failures and not failed:
            drivers = {name: {"target": entry.target, "distribution": entry.distribution, "states": entry.states}
                       for name, entry in registry}
            plugin_index.save(self.disabled, plugins, drivers)

    def _load_for(self, hook_name: str) -> None:
        """Register the builtins, and import from the index the plugins, that implement hook_name and are not loaded yet."""
        self._load_builtins(hook_name)
        if self._index is None or self._all:
            return
        import importlib

        for name, record in self._index["plugins"].items():
            if hook_name not in record["hooks"] or name in self.loaded:
                continue
            module, _, attr = record["value"].partition(":")
            dist = record["distribution"]
            try:
                plugin = importlib.import_module(module)
                for part in filter(None, attr.split(".")):
                    plugin = getattr(plugin, part)
            except Exception as exc:
                self.failures.append(LoadFailure(name, dist, f"{type(exc).__name__}: {exc}"))
            else:
                self._register(name, plugin, lambda exc, _n=name, _d=dist: self.failures.append(
                    LoadFailure(_n, _d, f"{type(exc).__name__}: {exc}")))
            self._check_strict()

    @cached_property
    def _distributions(self) -> dict[str, tuple[str, str]]:
        # importlib.metadata is slower than stevedore's cache: only for `plugins` and error reports.
        from importlib.metadata import distributions

        found = {}
        for dist in distributions():
            for ep in dist.entry_points:
                if ep.group == GROUP:
                    found[ep.name] = (dist.metadata["Name"], dist.version)
        return found

    def distribution_of(self, name: str) -> str:
        if name.startswith("creature.builtin"):
            return "creature"
        if self._index is not None and name in self._index["plugins"]:
            return self._index["plugins"][name]["distribution"]
        return self._distributions.get(name, ("unknown", ""))[0]

    def version_of(self, name: str) -> str:
        if name.startswith("creature.builtin"):
            from creature import __version__

            return __version__
        if self._index is not None and name in self._index["plugins"]:
            return self._index["plugins"][name]["version"]
        return self._distributions.get(name, ("", "unknown"))[1]

    @property
    def hook(self):
        """pluggy's hook relay, with every plugin loaded (use call() to load only a hook's implementers)."""
        self.load_all()
        return self.pm.hook

    def call(self, hook_name: str, **kwargs):
        """Call one hook, importing only the plugins that implement it (none: no pluggy either)."""
        if self._pm is None and not self._implemented(hook_name, kwargs):
            return None if hook_name in FIRSTRESULT else []
        self._load_for(hook_name)
        return getattr(self.pm.hook, hook_name)(**kwargs)

    def _implemented(self, hook_name: str, kwargs: dict) -> bool:
        from creature.builtin import DEFAULT_PLUGINS, ONLY_WHEN

        def acts(name: str) -> bool:
            argument, values = ONLY_WHEN.get((name, hook_name), (None, ()))
            return argument is None or kwargs.get(argument) in values

        if self._index is None or any(hook_name in hooks and acts(name) for name, hooks in DEFAULT_PLUGINS.items()):
            return True
        return any(hook_name in record["hooks"] for record in self._index["plugins"].values())

    def each(self, hook_name: str):
        """(plugin name, implementation) for one hook, so callers know who registered what."""
        self._load_for(hook_name)
        yield from self._each_registered(hook_name)

    def registry(self):
        """The driver registry: from the index when there is one, else from every creature_register_drivers."""
        if self._index is None:
            return self._registry_from_hooks()
        from creature.registry import DriverRegistry

        registry = DriverRegistry()
        for name, record in self._index["drivers"].items():
            registry.register(record["target"], record["distribution"], name, record.get("states"))
        if self._pm is not None:
            # plugins registered by hand (an embedding program, a test) are not in the index
            for plugin, function in self._each_registered("creature_register_drivers"):
                if plugin not in self.builtins and plugin not in self._index["plugins"]:
                    self._call_register(registry, plugin, function)
        return registry

    def _each_registered(self, hook_name: str):
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            yield impl.plugin_name, impl.function

    def _registry_from_hooks(self):
        from creature.registry import DriverRegistry

        registry = DriverRegistry()
        for plugin, function in self._each_registered("creature_register_drivers"):
            self._call_register(registry, plugin, function)
        return registry

    def _call_register(self, registry, plugin: str, function) -> None:
        dist = self.distribution_of(plugin)
        try:
            function(register=lambda driver, name=None, states=None, _d=dist: registry.register(driver, _d, name, states))
        except CreatureError:
            raise  # a duplicate driver name concerns two plugins: never hide it
        except Exception as exc:  # a driver module that fails to import is isolated like a failed entry point
            self.failures.append(LoadFailure(plugin, dist, f"{type(exc).__name__}: {exc}"))
            if self.strict:
                raise CreatureError(f"plugin {plugin!r} from {dist} failed to register its drivers: {exc}") from None


_PLUGINS: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugin set, loaded on first use."""
    global _PLUGINS
    if _PLUGINS is None:
        _PLUGINS = Plugins()
    return _PLUGINS
