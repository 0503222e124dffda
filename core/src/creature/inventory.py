"""The SQLite inventory (WAL): machines, templates and events; every change one transaction."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from creature.errors import CreatureError, InputError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:  # the records are imported where rows become records: `show` and `list` read rows only
    from creature.records import Machine, Network, Template

SCHEMA_VERSION = 2  # 2: networks and nics (MAC/IP reservations)
# Made on first use rather than in SCHEMA, so homes made before it existed get it without a schema bump.
HOST_STATE_SCHEMA = "CREATE TABLE IF NOT EXISTS host_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
SCHEMA = """
CREATE TABLE IF NOT EXISTS machines (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL,
    template TEXT NOT NULL,
    spec TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    dir TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS templates (
    name TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    meta TEXT NOT NULL DEFAULT '{}',
    size INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    machine TEXT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_machine ON events (machine, ts);
CREATE TABLE IF NOT EXISTS networks (
    name TEXT PRIMARY KEY,
    bridge TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS nics (
    mac TEXT PRIMARY KEY,
    machine TEXT NOT NULL,
    idx INTEGER NOT NULL,
    network TEXT,
    ip TEXT,
    UNIQUE (network, ip)
);
CREATE INDEX IF NOT EXISTS nics_machine ON nics (machine);
"""
# Version 1 files kept NICs only inside each machine's spec: copy them into nics (idempotent).
FILL_NICS = """
INSERT OR IGNORE INTO nics (mac, machine, idx, network, ip)
    SELECT lower(json_extract(n.value, '$.mac')), m.name, n.key, json_extract(n.value, '$.network'), json_extract(n.value, '$.ip')
    FROM machines m, json_each(m.spec, '$.nics') n WHERE json_extract(n.value, '$.mac') IS NOT NULL;
"""


class Inventory:
    """The inventory file of one creature home."""

    def __init__(self, path: Path):
        self.path = path
        # One connection per thread: sqlite3 connections and their transactions must not be shared
        # (host up starts machines from worker threads).
        self._local = threading.local()

    @property
    def db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._open()
        return db

    def _open(self) -> sqlite3.Connection:
        new = not self.path.exists()
        if new and not self.path.parent.is_dir():
            try:
                self.path.parent.mkdir(mode=0o700, parents=True)  # a first command on a new home may only read
            except OSError as exc:
                raise CreatureError(f"cannot create the creature home {self.path.parent}: {exc.strerror}") from None
        try:
            wait = float(os.environ.get("CREATURE_LOCK_TIMEOUT", "30"))
            db = sqlite3.connect(self.path, timeout=wait, isolation_level=None)
            if new:
                os.chmod(self.path, 0o600)
            db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # executescript commits first, so the schema (idempotent) and version go in one script.
                db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} {FILL_NICS} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        except sqlite3.DatabaseError as exc:
            raise CreatureError(self._explain(exc, "is unusable")) from None
        return db

    def _explain(self, exc: sqlite3.Error, what: str) -> str:
        """One line that tells the operator the cause (full disk, a lock holder, corruption) and the way out."""
        text = str(exc)
        try:
            st = os.statvfs(self.path.parent)
            full = st.f_bavail * st.f_frsize < 256 * 1024
        except OSError:
            full = False
        if full:
            return f"No space left on device: {self.path.parent} is full; free space and retry (nothing was changed)"
        if "locked" in text or "busy" in text:
            return (f"inventory {self.path} is locked by another process ({text}); "
                    f"find it with `fuser {self.path}` or raise CREATURE_LOCK_TIMEOUT")
        if "not a database" in text or "malformed" in text:
            return (f"inventory {self.path} is corrupt ({text}); move it aside and run "
                    "`creature doctor --rebuild` to rebuild it from the machine folders")
        return f"inventory {self.path} {what} ({text})"

    @contextmanager
    def tx(self):
        """One write transaction: all of it lands, or none of it."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise CreatureError(self._explain(exc, "cannot be written")) from None
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise CreatureError(self._explain(exc, "cannot be read")) from None

    # machines
    @staticmethod
    def _machine(row: tuple) -> Machine:
        # validated when it was created: read back as it is (no pydantic on the everyday path)
        from creature.records import Machine, MachineSpec

        spec, data, directory, created = row
        return Machine(spec=MachineSpec.from_dict(json.loads(spec)), data=json.loads(data), dir=Path(directory), created=created)

    def machine(self, name: str) -> Machine | None:
        rows = self._query("SELECT spec, data, dir, created FROM machines WHERE name = ?", (name,))
        return self._machine(rows[0]) if rows else None

    def machines(self) -> list[Machine]:
        return [self._machine(r) for r in self._query("SELECT spec, data, dir, created FROM machines ORDER BY name")]

    def machine_names(self) -> list[str]:
        return [r[0] for r in self._query("SELECT name FROM machines ORDER BY name")]

    @staticmethod
    def mirror(machine: Machine) -> None:
        """Keep a copy of the machine's row in its folder: `doctor --rebuild` recovers a lost inventory from it."""
        from creature.home import write_private

        if machine.dir.is_dir():
            write_private(machine.dir / "machine.json", json.dumps(
                {"spec": machine.spec.to_dict(), "data": machine.data, "created": machine.created}, indent=1))

    def add_machine(self, machine: Machine) -> None:
        self.mirror(machine)
        with self.tx() as db:
            db.execute(
                "INSERT INTO machines (name, driver, template, spec, data, dir, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    machine.name,
                    machine.driver,
                    machine.spec.template,
                    json.dumps(machine.spec.to_dict()),
                    json.dumps(machine.data),
                    str(machine.dir),
                    machine.created,
                ),
            )
            self._add_nics(db, machine)
            self._event(db, machine.name, "created")

    def update_machine(self, machine: Machine) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE machines SET spec = ?, data = ? WHERE name = ?",
                (json.dumps(machine.spec.to_dict()), json.dumps(machine.data), machine.name),
            )
        self.mirror(machine)

    def remove_machine(self, name: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM machines WHERE name = ?", (name,))
            db.execute("DELETE FROM nics WHERE machine = ?", (name,))
            self._event(db, name, "destroyed")

    @staticmethod
    def _add_nics(db: sqlite3.Connection, machine: Machine) -> None:
        for idx, nic in enumerate(machine.spec.nics):
            if nic.mac is None:
                continue
            try:
                db.execute("INSERT INTO nics (mac, machine, idx, network, ip) VALUES (?, ?, ?, ?, ?)",
                           (nic.mac, machine.name, idx, nic.network, nic.ip))
            except sqlite3.IntegrityError:
                raise InputError(f"MAC {nic.mac} or address {nic.ip} on {nic.network} is already in use") from None

    # networks and NIC reservations
    def network(self, name: str) -> Network | None:
        from creature.records import Network

        rows = self._query("SELECT config FROM networks WHERE name = ?", (name,))
        return Network.from_dict(json.loads(rows[0][0])) if rows else None

    def networks(self) -> list[Network]:
        from creature.records import Network

        return [Network.from_dict(json.loads(r[0])) for r in self._query("SELECT config FROM networks ORDER BY name")]

    def add_network(self, network: Network) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO networks (name, bridge, config, created) VALUES (?, ?, ?, ?)",
                       (network.name, network.bridge, json.dumps(network.to_dict()), network.created))

    def remove_network(self, name: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM networks WHERE name = ?", (name,))

    def users_of_network(self, name: str) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT machine FROM nics WHERE network = ? ORDER BY machine", (name,))]

    def nics(self, network: str | None = None) -> list[dict]:
        """NIC reservations (mac, machine, idx, network, ip), of one network or all."""
        sql = "SELECT mac, machine, idx, network, ip FROM nics"
        rows = self._query(sql + (" WHERE network = ? ORDER BY machine, idx" if network else " ORDER BY machine, idx"),
                           (network,) if network else ())
        return [dict(zip(("mac", "machine", "idx", "network", "ip"), r, strict=True)) for r in rows]

    def mac_in_use(self, mac: str) -> str | None:
        """The machine holding mac, or None."""
        rows = self._query("SELECT machine FROM nics WHERE mac = ?", (mac,))
        return rows[0][0] if rows else None

    # templates
    def template(self, name: str) -> Template | None:
        rows = self._query("SELECT name, method, path, options, meta, size, created FROM templates WHERE name = ?", (name,))
        return self._template(rows[0]) if rows else None

    def templates(self) -> list[Template]:
        rows = self._query("SELECT name, method, path, options, meta, size, created FROM templates ORDER BY name")
        return [self._template(r) for r in rows]

    @staticmethod
    def _template(row: tuple) -> Template:
        from creature.records import Template, TemplateMeta

        name, method, path, options, meta, size, created = row
        return Template(
            name=name, method=method, path=Path(path), options=json.loads(options), meta=TemplateMeta.from_dict(json.loads(meta)),
            size=size, created=created,
        )

    def add_template(self, t: Template) -> None:
        from creature.home import write_private

        if t.path.is_dir():
            write_private(t.path / "template.json", json.dumps(t.to_dict(), indent=1))
        with self.tx() as db:
            db.execute(
                "INSERT INTO templates (name, method, path, options, meta, size, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (t.name, t.method, str(t.path), json.dumps(t.options), json.dumps(t.meta.to_dict()), t.size, t.created),
            )

    def remove_template(self, name: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM templates WHERE name = ?", (name,))

    def users_of_template(self, name: str) -> list[str]:
        return [r[0] for r in self._query("SELECT name FROM machines WHERE template = ? ORDER BY name", (name,))]

    # events
    @staticmethod
    def _event(db: sqlite3.Connection, machine: str, event: str, detail: str = "") -> None:
        db.execute("INSERT INTO events (ts, machine, event, detail) VALUES (?, ?, ?, ?)", (time.time(), machine, event, detail))

    def add_event(self, machine: str, event: str, detail: str = "") -> None:
        with self.tx() as db:
            self._event(db, machine, event, detail)

    def events(self, machine: str | None = None) -> list[dict]:
        sql = "SELECT ts, machine, event, detail FROM events"
        rows = self._query(sql + (" WHERE machine = ? ORDER BY id" if machine else " ORDER BY id"), (machine,) if machine else ())
        return [dict(ts=r[0], machine=r[1], event=r[2], detail=r[3]) for r in rows]

    def last_events(self, kinds: tuple[str, ...]) -> dict[str, str]:
        """Each machine's most recent event among kinds (e.g. was it last started or stopped?)."""
        marks = ", ".join("?" for _ in kinds)
        rows = self._query(
            f"SELECT machine, event FROM events WHERE id IN (SELECT MAX(id) FROM events WHERE event IN ({marks}) GROUP BY machine)",
            kinds,
        )
        return dict(rows)

    # host state: what host down recorded for host up --restore
    def host_value(self, key: str):
        """The JSON value stored under key, or None."""
        with self.tx() as db:
            db.execute(HOST_STATE_SCHEMA)
            row = db.execute("SELECT value FROM host_state WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_host_value(self, key: str, value) -> None:
        """Store value (JSON) under key; None removes it."""
        with self.tx() as db:
            db.execute(HOST_STATE_SCHEMA)
            if value is None:
                db.execute("DELETE FROM host_state WHERE key = ?", (key,))
            else:
                db.execute("INSERT OR REPLACE INTO host_state (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def dump(self) -> str:
        """The machines and templates as text, for before/after comparisons (events excluded)."""
        lines = [repr(r) for r in self._query("SELECT name, driver, template, spec, data, dir FROM machines ORDER BY name")]
        lines += [repr(r) for r in self._query("SELECT name, method, path, options, meta FROM templates ORDER BY name")]
        lines += [repr(r) for r in self._query("SELECT name, bridge, config FROM networks ORDER BY name")]
        lines += [repr(r) for r in self._query("SELECT mac, machine, idx, network, ip FROM nics ORDER BY mac")]
        return "\n".join(lines)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
