"""The SQLite inventory (WAL): machines, templates and events; every change one transaction."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from creature.errors import CreatureError
from creature.model import Machine, MachineSpec, Template

SCHEMA_VERSION = 1
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
"""


class Inventory:
    """The inventory file of one creature home."""

    def __init__(self, path: Path):
        self.path = path
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        new = not self.path.exists()
        try:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            if new:
                os.chmod(self.path, 0o600)
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # executescript commits first, so the schema (idempotent) and version go in one script.
                db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        except sqlite3.DatabaseError as exc:
            raise CreatureError(
                f"inventory {self.path} is unusable ({exc}); move it aside and run `creature doctor`"
            ) from None
        return db

    @contextmanager
    def tx(self):
        """One write transaction: all of it lands, or none of it."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise CreatureError(f"inventory {self.path} cannot be written ({exc})") from None
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
            raise CreatureError(f"inventory {self.path} cannot be read ({exc})") from None

    # machines
    @staticmethod
    def _machine(row: tuple) -> Machine:
        spec, data, directory, created = row
        return Machine(spec=MachineSpec.model_validate_json(spec), data=json.loads(data), dir=Path(directory), created=created)

    def machine(self, name: str) -> Machine | None:
        rows = self._query("SELECT spec, data, dir, created FROM machines WHERE name = ?", (name,))
        return self._machine(rows[0]) if rows else None

    def machines(self) -> list[Machine]:
        return [self._machine(r) for r in self._query("SELECT spec, data, dir, created FROM machines ORDER BY name")]

    def machine_names(self) -> list[str]:
        return [r[0] for r in self._query("SELECT name FROM machines ORDER BY name")]

    def add_machine(self, machine: Machine) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO machines (name, driver, template, spec, data, dir, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    machine.name,
                    machine.driver,
                    machine.spec.template,
                    machine.spec.model_dump_json(),
                    json.dumps(machine.data),
                    str(machine.dir),
                    machine.created,
                ),
            )
            self._event(db, machine.name, "created")

    def update_machine(self, machine: Machine) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE machines SET spec = ?, data = ? WHERE name = ?",
                (machine.spec.model_dump_json(), json.dumps(machine.data), machine.name),
            )

    def remove_machine(self, name: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM machines WHERE name = ?", (name,))
            self._event(db, name, "destroyed")

    # templates
    def template(self, name: str) -> Template | None:
        rows = self._query("SELECT name, method, path, options, meta, size, created FROM templates WHERE name = ?", (name,))
        return self._template(rows[0]) if rows else None

    def templates(self) -> list[Template]:
        rows = self._query("SELECT name, method, path, options, meta, size, created FROM templates ORDER BY name")
        return [self._template(r) for r in rows]

    @staticmethod
    def _template(row: tuple) -> Template:
        name, method, path, options, meta, size, created = row
        return Template(
            name=name, method=method, path=Path(path), options=json.loads(options), meta=json.loads(meta),
            size=size, created=created,
        )

    def add_template(self, t: Template) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO templates (name, method, path, options, meta, size, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (t.name, t.method, str(t.path), json.dumps(t.options), json.dumps(t.meta), t.size, t.created),
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

    def dump(self) -> str:
        """The machines and templates as text, for before/after comparisons (events excluded)."""
        lines = [repr(r) for r in self._query("SELECT name, driver, template, spec, data, dir FROM machines ORDER BY name")]
        lines += [repr(r) for r in self._query("SELECT name, method, path, options, meta FROM templates ORDER BY name")]
        return "\n".join(lines)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
