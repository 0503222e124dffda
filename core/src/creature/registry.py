"""The driver registry: driver classes by name, each imported only when its driver is used.

A module of its own, without pydantic, so that listing knows the drivers without importing them.
"""

from __future__ import annotations

from creature.errors import CreatureError, NotFound

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms of `list`)
if TYPE_CHECKING:
    from creature.drivers import Driver


class Registered:
    """A driver registered by a distribution: its class, or where to import it from on first use."""

    def __init__(self, name: str, target: type[Driver] | str, distribution: str, states: str | None = None):
        self.name = name
        self.distribution = distribution
        self._target = target
        self.states = states

    def states_function(self):
        """The driver's lean states function ("module:function", see DriverRegistry.register), or None."""
        if self.states is None:
            return None
        import importlib

        module, _, attr = self.states.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except Exception as exc:
            raise CreatureError(f"driver {self.name!r} from {self.distribution} cannot load its states function "
                                f"{self.states}: {type(exc).__name__}: {exc}") from None

    @property
    def target(self) -> str:
        """Where the class is imported from, as "module:Class" (what the plugin index records)."""
        if isinstance(self._target, str):
            return self._target
        return f"{self._target.__module__}:{self._target.__qualname__}"

    @property
    def cls(self) -> type[Driver]:
        """The driver class (a lazily registered driver's module is imported here, once)."""
        if isinstance(self._target, str):
            import importlib

            module, _, attr = self._target.partition(":")
            try:
                cls = getattr(importlib.import_module(module), attr)
            except Exception as exc:
                raise CreatureError(f"driver {self.name!r} from {self.distribution} cannot be loaded: "
                                    f"{type(exc).__name__}: {exc}") from None
            _check_driver(cls, self.distribution)
            if cls.name != self.name:
                raise CreatureError(f"{self.distribution} registered {self._target} as {self.name!r}, but its name is {cls.name!r}")
            self._target = cls
        return self._target


def _check_driver(cls, distribution: str) -> None:
    from creature.drivers import Driver

    if not (isinstance(cls, type) and issubclass(cls, Driver)) or not getattr(cls, "name", None):
        raise CreatureError(f"{distribution} registered {cls!r}, which is not a named Driver subclass")


class DriverRegistry:
    """Driver classes by name; a name registered twice is an error naming both distributions."""

    def __init__(self):
        self._drivers: dict[str, Registered] = {}

    def register(self, driver: type[Driver] | str, distribution: str, name: str | None = None,
                 states: str | None = None) -> None:
        """Register a Driver subclass, or "module:Class" with its name (imported only when that driver is used).

        states, optional, is "module:function": function(machines) -> {name: State} for objects with only
        name, dir and data, in a module that imports neither pydantic nor the driver's module; `creature
        list` then answers for stopped machines without importing the driver (creature.builtin.commands.listing).
        """
        if states is not None and ":" not in states:
            raise CreatureError(f"{distribution} registered states={states!r}: it must be 'module:function'")
        if isinstance(driver, str):
            if not name or ":" not in driver:
                raise CreatureError(f"{distribution} registered {driver!r}: a lazy driver is 'module:Class' with name=")
        else:
            _check_driver(driver, distribution)
            name = driver.name
        old = self._drivers.get(name)
        if old is not None:
            raise CreatureError(f"driver name {name!r} is registered twice: by {old.distribution} and by {distribution}")
        self._drivers[name] = Registered(name, driver, distribution, states)

    def names(self) -> list[str]:
        return sorted(self._drivers)

    def entry(self, name: str) -> Registered:
        try:
            return self._drivers[name]
        except KeyError:
            known = ", ".join(self.names()) or "none installed"
            raise NotFound(f"unknown driver {name!r} (known: {known})") from None

    def __contains__(self, name: str) -> bool:
        return name in self._drivers

    def check_known(self, name: str) -> None:
        if name not in self._drivers:
            self.entry(name)

    def __iter__(self):
        return iter(sorted(self._drivers.items()))
