"""Plugin discovery (stevedore, one entry point at a time) and dispatch (one pluggy PluginManager)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property

import pluggy

from creature import hookspecs
from creature.errors import CreatureError

GROUP = "creature"
BUILTIN = "creature.builtin"


@dataclass
class LoadFailure:
    """An entry point that could not be loaded, kept to be shown instead of crashing the tool."""

    name: str
    distribution: str
    error: str


@dataclass
class Plugins:
    """Every creature plugin of this environment, loaded once, dispatched through pluggy."""

    strict: bool = field(default_factory=lambda: os.environ.get("CREATURE_STRICT_PLUGINS", "") not in ("", "0"))
    disabled: frozenset[str] = field(
        default_factory=lambda: frozenset(
            n.strip() for n in os.environ.get("CREATURE_DISABLE_PLUGINS", "").split(",") if n.strip()
        )
    )

    def __post_init__(self):
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[LoadFailure] = []
        self.loaded: dict[str, object] = {}
        self._load()

    def _load(self) -> None:
        from stevedore import ExtensionManager

        from creature import builtin

        self.pm.register(builtin, name=BUILTIN)
        disabled = self.disabled

        class _Manager(ExtensionManager):
            def _load_one_plugin(self, ep, *args, **kwargs):
                if ep.name in disabled:
                    return None
                return super()._load_one_plugin(ep, *args, **kwargs)

        def failed(_manager, ep, exc):
            self.failures.append(LoadFailure(ep.name, self.distribution_of(ep.name), f"{type(exc).__name__}: {exc}"))

        manager = _Manager(GROUP, on_load_failure_callback=failed)
        for ext in manager:
            try:
                self.pm.register(ext.plugin, name=ext.name)
                self.loaded[ext.name] = ext.plugin
            except Exception as exc:  # a malformed hookimpl must not take the tool down either
                failed(manager, ext.entry_point, exc)
        if self.strict and self.failures:
            f = self.failures[0]
            raise CreatureError(f"plugin {f.name!r} from {f.distribution} failed to load: {f.error}")

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
        if name == BUILTIN:
            return "creature"
        return self._distributions.get(name, ("unknown", ""))[0]

    def version_of(self, name: str) -> str:
        if name == BUILTIN:
            from creature import __version__

            return __version__
        return self._distributions.get(name, ("", "unknown"))[1]

    @property
    def hook(self):
        return self.pm.hook

    def each(self, hook_name: str):
        """(plugin name, implementation) for one hook, so callers know who registered what."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            yield impl.plugin_name, impl.function

    def registry(self):
        """The driver registry, filled by every plugin's creature_register_drivers."""
        from creature.drivers import DriverRegistry

        registry = DriverRegistry()
        for plugin, function in self.each("creature_register_drivers"):
            dist = self.distribution_of(plugin)
            try:
                function(register=lambda driver, name=None, _d=dist: registry.register(driver, _d, name))
            except CreatureError:
                raise  # a duplicate driver name concerns two plugins: never hide it
            except Exception as exc:  # a driver module that fails to import is isolated like a failed entry point
                self.failures.append(LoadFailure(plugin, dist, f"{type(exc).__name__}: {exc}"))
                if self.strict:
                    raise CreatureError(f"plugin {plugin!r} from {dist} failed to register its drivers: {exc}") from None
        return registry


_PLUGINS: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugin set, loaded on first use."""
    global _PLUGINS
    if _PLUGINS is None:
        _PLUGINS = Plugins()
    return _PLUGINS
