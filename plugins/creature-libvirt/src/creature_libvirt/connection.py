"""The one boundary between creature and libvirt: connections per URI, error translation, bulk queries.

Every libvirt call creature makes goes through Connection.call, which counts it (tests and the
benchmark prove that listing costs a constant number of calls) and turns libvirtError into a
creature error in one place.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from creature.sdk import CreatureError, InputError

try:
    import libvirt
except ImportError:  # the probe reports it; nothing else here is reachable without it
    libvirt = None


class Unreachable(CreatureError):
    """The libvirt daemon behind a URI cannot be reached (down, refused, wrong URI)."""


def _silence_default_handler() -> None:
    # libvirt prints every error to stderr by default; creature reports each one itself, once
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


_event_loop_started = False
_event_lock = threading.Lock()


def start_event_loop() -> bool:
    """Run libvirt's default event loop in a daemon thread; True when it was not running before."""
    global _event_loop_started
    with _event_lock:
        if _event_loop_started:
            return False
        libvirt.virEventRegisterDefaultImpl()

        def loop():
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=loop, name="libvirt-events", daemon=True).start()
        _event_loop_started = True
        return True


def translate(exc: Exception, uri: str, what: str) -> CreatureError:
    """A libvirtError as the creature error that says whose fault it was."""
    code = exc.get_error_code() if hasattr(exc, "get_error_code") else None
    message = (exc.get_error_message() if hasattr(exc, "get_error_message") else None) or str(exc)
    if what == "connect":
        return Unreachable(f"cannot reach libvirt at {uri}: {message}")
    if code in (libvirt.VIR_ERR_RPC, libvirt.VIR_ERR_NO_CONNECT) or "client socket is closed" in message:
        return Unreachable(f"lost the connection to libvirt at {uri}: {message}")
    if code == libvirt.VIR_ERR_NO_DOMAIN:
        return CreatureError(f"libvirt at {uri} has no such domain: {message}")
    if code in (libvirt.VIR_ERR_XML_ERROR, libvirt.VIR_ERR_XML_DETAIL):
        return InputError(f"libvirt at {uri} refused {what}: {message}")
    if code == libvirt.VIR_ERR_NO_SUPPORT:
        return CreatureError(f"libvirt at {uri} does not support {what}: {message}")
    return CreatureError(f"libvirt {what} failed at {uri}: {message}")


class Connection:
    """One long-lived connection to a libvirt URI, reopened when its liveness probe fails."""

    _pool: dict[str, Connection] = {}
    _pool_lock = threading.Lock()
    calls: Counter = Counter()  # by method name, across every connection of this process

    def __init__(self, uri: str):
        self.uri = uri
        self._conn = None
        self._lock = threading.Lock()
        self._bulk_stats = True

    @classmethod
    def to(cls, uri: str) -> Connection:
        """The shared connection for uri (made on first use)."""
        if libvirt is None:
            raise CreatureError("libvirt-python is not installed (pip install creature-libvirt pulls it in)")
        with cls._pool_lock:
            if uri not in cls._pool:
                cls._pool[uri] = cls(uri)
            return cls._pool[uri]

    def _open(self):
        _silence_default_handler()
        self.calls["open"] += 1
        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError as exc:
            raise translate(exc, self.uri, "connect") from None
        return conn

    def handle(self):
        """The live virConnect, reopened if the daemon went away since the last call."""
        with self._lock:
            if self._conn is not None and not self._alive():
                self._drop()
            if self._conn is None:
                self._conn = self._open()
            return self._conn

    def _alive(self) -> bool:
        try:
            return self._conn.isAlive() == 1  # the client's own view of the link: no round trip
        except libvirt.libvirtError:
            return False

    def reopen(self) -> None:
        """Close and reopen (a connection made before the event loop started delivers no events)."""
        with self._lock:
            if self._conn is not None:
                self._drop()
        self.handle()

    def _drop(self) -> None:
        try:
            self._conn.close()
        except libvirt.libvirtError:
            pass
        self._conn = None

    def call(self, method: str, *args: Any, target: Any = None) -> Any:
        """Call method on the connection (or on target, a domain or stream of it), translating errors."""
        obj = target if target is not None else self.handle()
        self.calls[method] += 1
        try:
            return getattr(obj, method)(*args)
        except libvirt.libvirtError as exc:
            error = translate(exc, self.uri, method)
            with self._lock:
                # whatever the code (EOF arrives as a system error), a dead link means the daemon is gone
                if self._conn is not None and (isinstance(error, Unreachable) or not self._alive()):
                    self._drop()
                    error = Unreachable(f"lost the connection to libvirt at {self.uri}: {exc.get_error_message() or exc}")
            raise error from None

    def ping(self) -> None:
        """One cheap round trip: raises Unreachable when the daemon does not answer."""
        try:
            self.call("getLibVersion")
        except Unreachable:
            raise
        except CreatureError as exc:
            raise Unreachable(str(exc)) from None

    # bulk queries: one round trip for every domain, never one per domain
    def domains(self) -> list:
        return self.call("listAllDomains", 0)

    def states(self) -> dict[str, tuple[int, int]]:
        """{domain UUID: (libvirt state, reason)} for every domain, in one call."""
        if self._bulk_stats:
            try:
                stats = self.call("getAllDomainStats", libvirt.VIR_DOMAIN_STATS_STATE, 0)
                return {dom.UUIDString(): (s.get("state.state", 0), s.get("state.reason", 0)) for dom, s in stats}
            except Unreachable:
                raise
            except CreatureError:
                self._bulk_stats = False  # libvirt LXC has none: its list filters are bulk too, one call per state
        found = {}
        for flag, state in ((libvirt.VIR_CONNECT_LIST_DOMAINS_RUNNING, libvirt.VIR_DOMAIN_RUNNING),
                            (libvirt.VIR_CONNECT_LIST_DOMAINS_PAUSED, libvirt.VIR_DOMAIN_PAUSED)):
            for dom in self.call("listAllDomains", flag):
                found[dom.UUIDString()] = (state, 0)
        for dom in self.call("listAllDomains", libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE):
            found.setdefault(dom.UUIDString(), (libvirt.VIR_DOMAIN_SHUTOFF, 0))
        return found

    def domain(self, uuid: str):
        return self.call("lookupByUUIDString", uuid)
