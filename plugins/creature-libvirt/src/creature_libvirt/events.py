"""libvirt lifecycle events, from libvirt's event loop, turned into creature_machine_event calls."""

from __future__ import annotations

from creature_libvirt.connection import Connection, start_event_loop

# virDomainEventType numbers -> creature's event names. SHUTDOWN (6) is not mapped: libvirt follows a
# finished shutdown with STOPPED (5), and mapping both told plugins "stopped" twice.
EVENTS = {2: "started", 3: "paused", 4: "resumed", 5: "stopped", 7: "crashed"}
_STOPPED_CRASHED = 2  # virDomainEventStoppedDetailType


def watch(connection: Connection, on_event) -> int:
    """Call on_event(domain, event) for every domain's lifecycle change; returns the callback id.

    The event loop runs in a daemon thread; a connection opened before it started is reopened,
    since libvirt delivers events only to connections made after the loop was registered.
    """
    import libvirt

    if start_event_loop():
        connection.reopen()

    last: dict[str, str] = {}  # domain UUID -> the last event told

    def callback(_conn, domain, event, detail, _opaque):
        name = EVENTS.get(event)
        if event == 5 and detail == _STOPPED_CRASHED:
            name = "crashed"
        if name is None:
            return
        uuid = domain.UUIDString()
        # libvirt's LXC driver may report one stop twice (the destroy, then its controller's end, racing): a
        # state is told once, whatever libvirt repeats
        if last.get(uuid) != name:
            last[uuid] = name
            on_event(domain, name)

    return connection.call("domainEventRegisterAny", None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, callback, None)


def forward(driver, api) -> int:
    """Feed the events of driver's domains that are machines of api's home into its plugins' creature_machine_event."""

    def on_event(domain, event):
        uuid = domain.UUIDString()
        machine = next((m for m in api.inventory.machines() if m.driver == driver.name and m.data.get("uuid") == uuid), None)
        if machine is not None:
            api.plugins.call("creature_machine_event", api=api, machine=machine, event=event)

    return watch(driver.connection, on_event)
