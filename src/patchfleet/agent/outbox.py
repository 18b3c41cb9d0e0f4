"""Persistent outbox and agent memory (stdlib sqlite3): nothing is lost on a crash.

Results are written here *before* they are sent and deleted only after the server
accepted them. The last inventory the server acknowledged is kept for deltas.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
                                   payload TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dead (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL,
                                 created_at TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Queued:
    """One unsent message."""

    id: int
    kind: str
    payload: str


class Outbox:
    """The agent's durable queue and key-value memory."""

    def __init__(self, path: Path) -> None:
        """Open (and create) the store at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the store."""
        self._db.close()

    def put(self, kind: str, payload: str, created_at: str) -> int:
        """Queue a message durably; returns its id."""
        cur = self._db.execute(
            "INSERT INTO outbox (kind, payload, created_at) VALUES (?, ?, ?)",
            (kind, payload, created_at),
        )
        return int(cur.lastrowid or 0)

    def pending(self) -> list[Queued]:
        """Unsent messages, oldest first."""
        rows = self._db.execute(
            "SELECT id, kind, payload FROM outbox ORDER BY id"
        ).fetchall()
        return [Queued(*r) for r in rows]

    def done(self, message_id: int) -> None:
        """Forget a message the server accepted."""
        self._db.execute("DELETE FROM outbox WHERE id = ?", (message_id,))

    def reject(self, message_id: int, reason: str) -> None:
        """Move a message the server refused for good aside, keeping it for inspection."""
        self._db.execute("BEGIN")
        self._db.execute(
            "INSERT INTO dead (id, kind, payload, created_at, reason) "
            "SELECT id, kind, payload, created_at, ? FROM outbox WHERE id = ?",
            (reason, message_id),
        )
        self._db.execute("DELETE FROM outbox WHERE id = ?", (message_id,))
        self._db.execute("COMMIT")

    def dead_count(self) -> int:
        """Messages the server refused."""
        return int(self._db.execute("SELECT count(*) FROM dead").fetchone()[0])

    def get(self, key: str) -> str | None:
        """A remembered value."""
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, key: str, value: str) -> None:
        """Remember a value."""
        self._db.execute(
            "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value)
        )

    def get_json(self, key: str) -> object:
        """A remembered JSON value, or None."""
        raw = self.get(key)
        return None if raw is None else json.loads(raw)
