"""How each connection of the SQLite store is opened and set up, in plain `sqlite3` (run on the
connection's own thread), and how `sqlite3` errors become `StoreError`s. Apart from `sqlite`
(the one module that imports aiosqlite) so that it stays short.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from auctionactors.errors import CorruptionError, StorageUnavailable, StoreError
from auctionactors.store.migrations import LATEST_VERSION, migrate, schema_version


def storage_error(exc: BaseException) -> StoreError:
    """A damaged file ("file is not a database", "malformed") is corruption, not a hiccup."""
    if isinstance(exc, StoreError):
        return exc
    if type(exc) is sqlite3.DatabaseError:
        return CorruptionError(f"database damaged: {exc}")
    return StorageUnavailable(f"storage failed: {exc}")


def probe(path: str, uri: bool) -> None:
    sqlite3.connect(path, uri=uri).close()


def read_only_uri(path: str) -> str:
    """``file:///...?mode=ro``, percent-encoded (a ``?``, ``#`` or ``%`` in the name stays a name).

    Not ``immutable=1``: that would hide what other processes commit from here on.
    """
    return Path(path).absolute().as_uri() + "?mode=ro"


def setup_writer(conn: sqlite3.Connection, *, durable: bool, busy_ms: int) -> None:
    try:
        conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"cannot use WAL journal mode (got {mode!r})")
        conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.Error as exc:
        raise storage_error(exc) from exc


def setup_reader(conn: sqlite3.Connection, *, busy_ms: int, check_version: bool = False) -> None:
    """``check_version``: refuse a schema this code does not match, since there is no writer to
    migrate it (a read-only store must leave the file as it is)."""
    try:
        conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
        conn.execute("PRAGMA query_only = ON")
        version = schema_version(conn) if check_version else LATEST_VERSION
    except sqlite3.Error as exc:
        raise storage_error(exc) from exc
    if version < LATEST_VERSION:
        raise StoreError(
            f"database schema version {version} needs migration; run `auctionactors serve` "
            f"once to migrate it to version {LATEST_VERSION}"
        )
    if version > LATEST_VERSION:
        raise StoreError(
            f"database schema version {version} is newer than this program knows "
            f"({LATEST_VERSION}); upgrade auctionactors to open it"
        )
