"""PostgreSQL for the tests: ``pg_url`` gives each test a fresh database of its own and drops it
afterwards (``WITH (FORCE)``: a server process the test left behind cannot keep it).

The server is the one at 127.0.0.1:5432 with trust authentication (``scripts/setup-postgres.sh``
installs and starts one where none answers); ``$AUCTIONACTORS_TEST_PG`` names another
(a URL of its maintenance database). When none answers, the tests that need it are skipped on a
developer's machine, and fail under CI (``$CI`` set): there they must never be skipped.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from auctionactors.store.postgres import PostgresEventStore, is_postgres_url
from auctionactors.store.sqlite import SqliteEventStore

ADMIN_URL = os.environ.get("AUCTIONACTORS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def database_url(name: str, admin_url: str = ADMIN_URL) -> str:
    """``admin_url`` with its database replaced by ``name``."""
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def _execute(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _admin(sql: str) -> None:
    """Run ``sql`` on the maintenance database, on a thread of its own: fixtures of async tests
    run inside an event loop, where `asyncio.run` may not."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _execute(sql)).result()


def unreachable(exc: BaseException) -> None:
    """Skip the test, or fail it under CI, for want of PostgreSQL."""
    why = f"PostgreSQL unreachable at {ADMIN_URL} ({exc}); run scripts/setup-postgres.sh"
    if os.environ.get("CI"):
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


def create_database() -> str:
    """A new, empty database; its name (``unreachable`` decides when there is no server)."""
    name = f"aa_test_{secrets.token_hex(6)}"
    try:
        _admin(f'CREATE DATABASE "{name}"')
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        unreachable(exc)
    return name


def drop_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def open_db(db: Path | str) -> SqliteEventStore | PostgresEventStore:
    """The store at ``db``: a SQLite file, or a PostgreSQL database named by its URL."""
    if isinstance(db, str) and is_postgres_url(db):
        return await PostgresEventStore.open(db)
    return await SqliteEventStore.open(db)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh database of this test's own, dropped afterwards."""
    name = create_database()
    try:
        yield database_url(name)
    finally:
        drop_database(name)
