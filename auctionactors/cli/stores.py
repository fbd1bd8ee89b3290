"""The one place that opens a store from ``--db``: a SQLite file by default, a PostgreSQL database
for a ``postgresql://USER@HOST:PORT/DB`` URL (``postgres://`` too). Every subcommand (serve, demo,
user, auctions, events, replay, verify, backup) opens its store here.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from auctionactors.errors import UsageError
from auctionactors.store.postgres import PostgresEventStore, is_postgres_url, safe_url
from auctionactors.store.sqlite import SqliteEventStore

Store = SqliteEventStore | PostgresEventStore

PG_DUMP_HINT = (
    "backup of a PostgreSQL database: use pg_dump (pg_dump -Fc 'URL' > FILE; pg_restore to load)"
)


def describe(db: str) -> str:
    """How messages name the store: a file's absolute path, a URL without its password."""
    return safe_url(db) if is_postgres_url(db) else os.path.abspath(db)


@asynccontextmanager
async def open_store(
    db: str, *, create: bool = False, exclusive: bool = False, busy_timeout: float = 5.0
) -> AsyncIterator[Store]:
    """Open the store ``db`` names.

    A read-only command (``create=False``) refuses a path that does not exist rather than
    creating an empty database there, and opens the store read-only: it never migrates it and
    leaves the writing to ``serve``. ``create=True`` opens it writable (migrating it).
    ``exclusive`` (``serve``): the only such store of the database (`StoreLocked` otherwise).
    ``busy_timeout``: SQLite's wait for another process's lock.
    """
    store: Store
    if is_postgres_url(db):
        store = await PostgresEventStore.open(db, read_only=not create, exclusive=exclusive)
    else:
        path = check_db_path(db, create)
        store = await SqliteEventStore.open(
            path, read_only=not create, exclusive=exclusive, busy_timeout=busy_timeout
        )
    try:
        yield store
    finally:
        await store.close()


def check_db_path(path: str, create: bool) -> str:
    """`UsageError` for a SQLite path that cannot be the database (no folder, a directory, or
    missing when ``create`` is False); else its absolute path (a PostgreSQL URL as it is)."""
    if is_postgres_url(path):
        return path
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"no folder {folder} for the database {path}")
    if not create and not os.path.exists(path):
        raise UsageError(f"no database at {path} (use --db or $AUCTIONACTORS_DB)")
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory, not a database")
    return os.path.abspath(path)
