"""The catalog in SQLite: its tables (migration 5), its upsert (on the writer, inside the
append's transaction) and its reads (on the reader), all plain synchronous `sqlite3` code run on
a connection's own thread, like `sqlite_reads` and `sqlite_writer`.

One row per stream in ``catalog`` (its readers as a JSON array, so that a page is read without a
join); who may read it also in ``catalog_readers``, one row per company, carrying the stream's
``created_at`` so that a company's page is a range scan of one index, in the catalog's order,
however many auctions the others have. ``uncatalogued`` names the streams whose last append
carried no row (code that writes none yet, an event the domain cannot apply): `auctions` lists
them from there instead of scanning every stream.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping
from functools import partial
from itertools import starmap
from typing import TypeVar

import msgspec

from auctionactors.domain.state import AuctionState, evolve
from auctionactors.errors import CorruptionError
from auctionactors.store import codec
from auctionactors.store.base import CatalogEntry, Damage, Snapshot, StoredEvent, check_limit

T = TypeVar("T")

log = logging.getLogger(__name__)

SCHEMA = (
    """CREATE TABLE catalog (
        stream_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        next_deadline INTEGER,
        readers TEXT NOT NULL,
        data BLOB NOT NULL
    )""",
    "CREATE INDEX catalog_by_created ON catalog (created_at, stream_id)",
    # Only rows with a deadline: the timer heap reads these and nothing else.
    """CREATE INDEX catalog_by_deadline ON catalog (next_deadline, stream_id)
        WHERE next_deadline IS NOT NULL""",
    """CREATE TABLE catalog_readers (
        company_id TEXT NOT NULL,
        stream_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (company_id, stream_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX catalog_readers_page ON catalog_readers (company_id, created_at, stream_id)",
    "CREATE INDEX catalog_readers_stream ON catalog_readers (stream_id)",
    "CREATE TABLE uncatalogued (stream_id TEXT PRIMARY KEY) WITHOUT ROWID",
)

UPSERT = """
    INSERT INTO catalog (stream_id, seq, status, created_at, next_deadline, readers, data)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (stream_id) DO UPDATE SET seq = excluded.seq, status = excluded.status,
        created_at = excluded.created_at, next_deadline = excluded.next_deadline,
        readers = excluded.readers, data = excluded.data
"""
SELECT_READERS = "SELECT company_id, created_at FROM catalog_readers WHERE stream_id = ?"
DELETE_READERS = "DELETE FROM catalog_readers WHERE stream_id = ?"
INSERT_READER = "INSERT INTO catalog_readers (company_id, stream_id, created_at) VALUES (?, ?, ?)"

COLUMNS = "c.stream_id, c.seq, c.status, c.created_at, c.next_deadline, c.readers, c.data"
CAUGHT_UP = "DELETE FROM uncatalogued WHERE stream_id = ?"
# Marked once, not at every append: an append that finds its stream marked writes nothing here.
BEHIND = "INSERT OR IGNORE INTO uncatalogued (stream_id) VALUES (?)"
SELECT_BEHIND = """SELECT u.stream_id,
        (SELECT MAX(seq) FROM events WHERE stream_id = u.stream_id), COALESCE(c.seq, 0)
    FROM uncatalogued u LEFT JOIN catalog c ON c.stream_id = u.stream_id ORDER BY u.stream_id"""

_readers_encoder = msgspec.json.Encoder()
_readers_decoder = msgspec.json.Decoder(tuple[str, ...])
# The partial index holds only rows with a deadline: the timer heap reads nothing else.
SELECT_SCHEDULED = """SELECT stream_id, next_deadline FROM catalog
    WHERE next_deadline IS NOT NULL ORDER BY next_deadline, stream_id"""


Readers = tuple[tuple[str, ...], int]  # a stream's readers and its created_at, as indexed


def upsert(
    conn: sqlite3.Connection,
    entries: Iterable[CatalogEntry],
    known: Mapping[str, Readers] | None = None,
) -> dict[str, Readers]:
    """Write each stream's row; its readers are rewritten only when they changed (they seldom
    do, and the row itself changes with every append). ``known``: the readers the caller knows
    are stored (as it committed them), not read again. Returns the readers of each row."""
    written: dict[str, Readers] = {}
    for e in entries:
        readers = _readers_encoder.encode(e.readers).decode()
        row = (e.stream_id, e.seq, e.status, e.created_at, e.next_deadline, readers, e.data)
        conn.execute(UPSERT, row)
        mine = written[e.stream_id] = (tuple(e.readers), e.created_at)
        if known is not None and known.get(e.stream_id) == mine:
            continue
        wanted = {(company, e.created_at) for company in e.readers}
        if set(conn.execute(SELECT_READERS, (e.stream_id,))) == wanted:
            continue
        conn.execute(DELETE_READERS, (e.stream_id,))
        conn.executemany(INSERT_READER, [(c, e.stream_id, t) for c, t in wanted])
    return written


def _entry(
    stream_id: str,
    seq: int,
    status: str,
    created_at: int,
    next_deadline: int | None,
    readers: str,
    data: bytes,
) -> CatalogEntry:
    companies = _readers_decoder.decode(readers)
    return CatalogEntry(stream_id, seq, status, created_at, next_deadline, companies, data)


def _filters(
    reader: str | None, statuses: Collection[str] | None, before: tuple[int, str] | None
) -> tuple[str, str, list[object]]:
    """FROM/WHERE clauses and their parameters, and the columns to order by."""
    params: list[object] = []
    if reader is None:
        source, order = "catalog c", "c"
        where = ["1"]
    else:
        source = "catalog_readers r JOIN catalog c ON c.stream_id = r.stream_id"
        order = "r"
        where = ["r.company_id = ?"]
        params.append(reader)
    if statuses is not None:
        wanted = sorted(set(statuses))
        where.append(f"c.status IN ({', '.join('?' for _ in wanted)})")
        params += wanted
    if before is not None:
        where.append(f"({order}.created_at, {order}.stream_id) < (?, ?)")
        params += [before[0], before[1]]
    return f"FROM {source} WHERE {' AND '.join(where)}", order, params


def page(
    conn: sqlite3.Connection,
    reader: str | None,
    statuses: Collection[str] | None,
    before: tuple[int, str] | None,
    limit: int | None,
) -> list[CatalogEntry]:
    clauses, order, params = _filters(reader, statuses, before)
    sql = (
        f"SELECT {COLUMNS} {clauses} "
        f"ORDER BY {order}.created_at DESC, {order}.stream_id DESC LIMIT ?"
    )
    return list(starmap(_entry, conn.execute(sql, [*params, -1 if limit is None else limit])))


def count(conn: sqlite3.Connection, reader: str | None, statuses: Collection[str] | None) -> int:
    clauses, _, params = _filters(reader, statuses, None)
    found: int = conn.execute(f"SELECT COUNT(*) {clauses}", params).fetchone()[0]
    return found


def entry(conn: sqlite3.Connection, stream_id: str) -> CatalogEntry | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM catalog c WHERE c.stream_id = ?", (stream_id,))
    found = row.fetchone()
    return None if found is None else _entry(*found)


def scheduled(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    return [(stream_id, deadline) for stream_id, deadline in conn.execute(SELECT_SCHEDULED)]


def mark(conn: sqlite3.Connection, caught_up: Iterable[str], behind: Iterable[str]) -> None:
    """Record which streams' last append carried their row (``caught_up``) and which did not."""
    conn.executemany(CAUGHT_UP, [(stream_id,) for stream_id in caught_up])
    conn.executemany(BEHIND, [(stream_id,) for stream_id in behind])


def listing(conn: sqlite3.Connection) -> list[tuple[str, int, str, bytes]]:
    """(stream_id, seq, status, summary data) of every row, by stream id: the primary key's
    order, nothing decoded (for `auctions`, which lists every auction)."""
    sql = "SELECT stream_id, seq, status, data FROM catalog ORDER BY stream_id"
    rows: list[tuple[str, int, str, bytes]] = conn.execute(sql).fetchall()
    return rows


def behind(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
    """(stream_id, seq, catalogued seq or 0) of each stream whose last append carried no row."""
    return [(stream_id, seq, done) for stream_id, seq, done in conn.execute(SELECT_BEHIND)]


# The readers' index must say what each row says: else a company's list silently differs.
SELECT_INDEX_DAMAGE = """
    SELECT c.stream_id, c.seq FROM catalog c WHERE
        (SELECT json_group_array(company_id) FROM (SELECT company_id FROM catalog_readers
            WHERE stream_id = c.stream_id AND created_at = c.created_at ORDER BY company_id))
        != (SELECT json_group_array(value) FROM (SELECT DISTINCT value FROM json_each(c.readers)
            ORDER BY value))
        OR EXISTS (SELECT 1 FROM catalog_readers r
            WHERE r.stream_id = c.stream_id AND r.created_at != c.created_at)
    UNION ALL
    SELECT DISTINCT r.stream_id, 0 FROM catalog_readers r
        WHERE NOT EXISTS (SELECT 1 FROM catalog c WHERE c.stream_id = r.stream_id)
    ORDER BY 1
"""


def check(conn: sqlite3.Connection) -> list[Damage]:
    """Streams whose rows in ``catalog_readers`` differ from the readers of their catalog row."""
    problem = "catalog readers index differs from the catalog row"
    return [Damage(stream_id, seq, problem) for stream_id, seq in conn.execute(SELECT_INDEX_DAMAGE)]


# -- migration 5: the rows of an existing database ----------------------------------------------


def build(conn: sqlite3.Connection) -> None:
    """Catalog every stream, in the caller's transaction, by folding its events (from its
    snapshot when that is of the current shape). A stream that cannot be folded gets no row: it
    is logged and left `uncatalogued` (`verify` tells why), and the migration goes on (one
    damaged auction must not keep a server from starting)."""
    streams = conn.execute("SELECT DISTINCT stream_id FROM events ORDER BY stream_id").fetchall()
    for (stream_id,) in streams:
        snapshot = _snapshot(conn, stream_id)
        try:
            try:
                entry_ = fold(stream_id, snapshot, _events(conn, stream_id, snapshot))
            except CorruptionError:
                if snapshot is None:
                    raise
                entry_ = fold(stream_id, None, _events(conn, stream_id, None))  # from seq 1
        except Exception as exc:
            log.warning("catalog: %s left out, its events cannot be folded: %s", stream_id, exc)
            mark(conn, (), [stream_id])
            continue
        if entry_ is not None:
            upsert(conn, [entry_])
            mark(conn, [stream_id], ())


def fold(
    stream_id: str, snapshot: Snapshot | None, events: Iterable[StoredEvent]
) -> CatalogEntry | None:
    """The catalog row of the stream's state after ``events`` (those after ``snapshot``, when
    it is given). Raises whatever decoding or applying an event raises."""
    state: AuctionState | None = None
    if snapshot is not None:
        state = codec.decode_snapshot(stream_id, snapshot)
    for stored in events:
        state = evolve(state, codec.decode_event(stored))
    return None if state is None else codec.catalog_entry(state)


def _snapshot(conn: sqlite3.Connection, stream_id: str) -> Snapshot | None:
    row = conn.execute(
        "SELECT seq, version, data FROM snapshots WHERE stream_id = ?", (stream_id,)
    ).fetchone()
    if row is None or row[1] != codec.SNAPSHOT_VERSION:
        return None
    return Snapshot(*row)


def _events(
    conn: sqlite3.Connection, stream_id: str, snapshot: Snapshot | None
) -> Iterable[StoredEvent]:
    after = 0 if snapshot is None else snapshot.seq
    rows = conn.execute(
        "SELECT ?1, seq, position, type, data, hash FROM events "
        "WHERE stream_id = ?1 AND seq > ?2 ORDER BY seq",
        (stream_id, after),
    )
    return starmap(StoredEvent, rows)


class CatalogReads:
    """`SqliteEventStore`'s catalog reads (`EventStore.catalog` and the rest), on the reader."""

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def catalog(
        self,
        *,
        reader: str | None = None,
        statuses: Collection[str] | None = None,
        before: tuple[int, str] | None = None,
        limit: int | None = None,
    ) -> list[CatalogEntry]:
        """See `EventStore.catalog`: a range scan of one index (``reader``: its own)."""
        check_limit(limit)
        read = partial(page, reader=reader, statuses=statuses)
        return await self._read(partial(read, before=before, limit=limit))

    async def catalog_count(
        self, *, reader: str | None = None, statuses: Collection[str] | None = None
    ) -> int:
        return await self._read(partial(count, reader=reader, statuses=statuses))

    async def catalog_entry(self, stream_id: str) -> CatalogEntry | None:
        return await self._read(partial(entry, stream_id=stream_id))

    async def scheduled(self) -> list[tuple[str, int]]:
        return await self._read(scheduled)

    async def listing(self) -> list[tuple[str, int, str, bytes]]:
        """Every catalog row as (stream_id, seq, status, encoded summary), by stream id."""
        return await self._read(listing)

    async def uncatalogued(self) -> list[tuple[str, int, int]]:
        """(stream_id, highest seq, catalogued seq or 0) of each stream with events that its
        catalog row does not include (or no row), in one query: for `auctions` and operators."""
        return await self._read(behind)
