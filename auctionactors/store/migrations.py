"""Numbered SQLite schema migrations, applied in order when a store opens.

The schema version lives in ``PRAGMA user_version`` (in the database header, so it needs no
table and changes atomically with the migration's own statements). Migrations are append-only:
never edit a released one, add the next number. Each one is a tuple of steps: single statements
rather than a script, because ``sqlite3.executescript`` would commit the surrounding transaction,
or a Python function of the connection (to fill a new table from what is stored), run in the same
transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from auctionactors.errors import StoreError
from auctionactors.store import sqlite_catalog, sqlite_deliveries

Step = str | Callable[[sqlite3.Connection], None]

MIGRATIONS: list[tuple[int, tuple[Step, ...]]] = [
    (
        1,
        (
            """CREATE TABLE events (
                position INTEGER PRIMARY KEY AUTOINCREMENT,
                stream_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                type TEXT NOT NULL,
                data BLOB NOT NULL,
                hash BLOB NOT NULL,
                UNIQUE (stream_id, seq)
            )""",
        ),
    ),
    (
        2,
        (
            """CREATE TABLE companies (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                role TEXT NOT NULL
            )""",
            """CREATE TABLE users (
                id TEXT PRIMARY KEY,
                company_id TEXT NOT NULL REFERENCES companies (id),
                name TEXT NOT NULL
            )""",
            """CREATE TABLE tokens (
                hash BLOB PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id),
                created_at TEXT NOT NULL,
                revoked INTEGER NOT NULL DEFAULT 0
            )""",
        ),
    ),
    (
        3,
        (
            # Idempotency keys (PROTOCOL.md 1.1), written with the events of their command.
            """CREATE TABLE command_keys (
                scope TEXT NOT NULL,
                user_id TEXT NOT NULL,
                key TEXT NOT NULL,
                fingerprint BLOB NOT NULL,
                seq INTEGER NOT NULL,
                result BLOB NOT NULL,
                stream_id TEXT NOT NULL,
                PRIMARY KEY (scope, user_id, key)
            ) WITHOUT ROWID""",
        ),
    ),
    (
        4,
        (
            # The latest snapshot of each stream's state, written with the events it follows.
            """CREATE TABLE snapshots (
                stream_id TEXT PRIMARY KEY,
                seq INTEGER NOT NULL,
                version TEXT NOT NULL,
                data BLOB NOT NULL
            )""",
        ),
    ),
    (
        5,
        # The catalog (one row per stream, written with its events), built for the streams
        # already stored by folding their events.
        (*sqlite_catalog.SCHEMA, sqlite_catalog.build),
    ),
    (
        6,
        # Notifications: users' mail addresses, and what the reactors keep (store/deliveries.py).
        ("ALTER TABLE users ADD COLUMN email TEXT", *sqlite_deliveries.SCHEMA),
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]


def schema_version(conn: sqlite3.Connection) -> int:
    """The version recorded in the database (0 for a new, empty file)."""
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection, target: int = LATEST_VERSION) -> int:
    """Bring the schema up to ``target`` in one transaction; returns the version reached.

    ``conn`` must be in autocommit mode (``isolation_level=None``) so that the explicit
    ``BEGIN IMMEDIATE`` here is the only transaction: a failure anywhere leaves the old schema.
    A database newer than this code is refused rather than used: old code could misread it.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)
        if current > LATEST_VERSION:
            raise StoreError(
                f"database schema version {current} is newer than this auctionactors knows "
                f"({LATEST_VERSION}); upgrade auctionactors to open it"
            )
        for version, statements in MIGRATIONS:
            if current < version <= target:
                for step in statements:
                    if isinstance(step, str):
                        conn.execute(step)
                    else:
                        step(conn)
                conn.execute(f"PRAGMA user_version = {int(version)}")
                current = version
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return current
