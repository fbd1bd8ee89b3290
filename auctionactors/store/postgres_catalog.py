"""The catalog in PostgreSQL (tables: migration 5 of `postgres_migrations`): its upsert, inside
an append's transaction, and its reads. The same design as `sqlite_catalog` (read that module's
docstring): one row per stream, its readers as a JSON array in the row and one row per company in
``catalog_readers`` for a company's page, ``uncatalogued`` for streams whose last append carried
no row.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import asyncpg
import msgspec

from auctionactors.store.base import CatalogEntry, Damage, check_limit

Readers = tuple[tuple[str, ...], int]  # a stream's readers and its created_at, as indexed

_readers_encoder = msgspec.json.Encoder()
_readers_decoder = msgspec.json.Decoder(tuple[str, ...])

UPSERT = """
    INSERT INTO catalog (stream_id, seq, status, created_at, next_deadline, readers, data)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[],
        $6::text[], $7::bytea[])
    ON CONFLICT (stream_id) DO UPDATE SET seq = excluded.seq, status = excluded.status,
        created_at = excluded.created_at, next_deadline = excluded.next_deadline,
        readers = excluded.readers, data = excluded.data
"""
DELETE_READERS = "DELETE FROM catalog_readers WHERE stream_id = ANY($1::text[])"
INSERT_READERS = """INSERT INTO catalog_readers (company_id, stream_id, created_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])"""
CAUGHT_UP = "DELETE FROM uncatalogued WHERE stream_id = ANY($1::text[])"
BEHIND = """INSERT INTO uncatalogued (stream_id) SELECT unnest($1::text[])
    ON CONFLICT DO NOTHING"""
COLUMNS = "c.stream_id, c.seq, c.status, c.created_at, c.next_deadline, c.readers, c.data"
SELECT_SCHEDULED = """SELECT stream_id, next_deadline FROM catalog
    WHERE next_deadline IS NOT NULL ORDER BY next_deadline, stream_id"""
SELECT_BEHIND = """SELECT u.stream_id,
        (SELECT MAX(seq) FROM events WHERE stream_id = u.stream_id), COALESCE(c.seq, 0)
    FROM uncatalogued u LEFT JOIN catalog c ON c.stream_id = u.stream_id ORDER BY u.stream_id"""
# The readers' index must say what each row says: else a company's list silently differs.
SELECT_INDEX_DAMAGE = """
    SELECT c.stream_id, c.seq FROM catalog c WHERE
        COALESCE((SELECT array_agg(r.company_id ORDER BY r.company_id) FROM catalog_readers r
            WHERE r.stream_id = c.stream_id AND r.created_at = c.created_at), '{}')
        IS DISTINCT FROM COALESCE((SELECT array_agg(DISTINCT v COLLATE "C" ORDER BY v COLLATE "C")
            FROM json_array_elements_text(c.readers::json) AS v), '{}')
        OR EXISTS (SELECT 1 FROM catalog_readers r
            WHERE r.stream_id = c.stream_id AND r.created_at != c.created_at)
    UNION ALL
    SELECT DISTINCT r.stream_id, 0 FROM catalog_readers r
        WHERE NOT EXISTS (SELECT 1 FROM catalog c WHERE c.stream_id = r.stream_id)
    ORDER BY 1
"""


async def upsert(
    conn: asyncpg.Connection, entries: Iterable[CatalogEntry], known: Mapping[str, Readers]
) -> dict[str, Readers]:
    """Write each stream's row (one statement for them all); its readers' index rows are
    rewritten only when they differ from ``known`` (as the caller last committed them). Returns
    the readers of each row."""
    rows = list(entries)
    if not rows:
        return {}
    readers = [_readers_encoder.encode(e.readers).decode() for e in rows]
    columns = (
        [e.stream_id for e in rows],
        [e.seq for e in rows],
        [e.status for e in rows],
        [e.created_at for e in rows],
        [e.next_deadline for e in rows],
        readers,
        [e.data for e in rows],
    )
    await conn.execute(UPSERT, *columns)
    written = {e.stream_id: (tuple(e.readers), e.created_at) for e in rows}
    changed = [e for e in rows if known.get(e.stream_id) != written[e.stream_id]]
    if changed:
        await conn.execute(DELETE_READERS, [e.stream_id for e in changed])
        index = sorted({(c, e.stream_id, e.created_at) for e in changed for c in e.readers})
        if index:
            await conn.execute(
                INSERT_READERS, [i[0] for i in index], [i[1] for i in index], [i[2] for i in index]
            )
    return written


async def mark(conn: asyncpg.Connection, caught_up: list[str], behind: list[str]) -> None:
    """Record which streams' last append carried their row (``caught_up``) and which did not."""
    if caught_up:
        await conn.execute(CAUGHT_UP, caught_up)
    if behind:
        await conn.execute(BEHIND, behind)


def _entry(record: asyncpg.Record) -> CatalogEntry:
    stream_id, seq, status, created_at, next_deadline, readers, data = record
    companies = _readers_decoder.decode(readers)
    return CatalogEntry(stream_id, seq, status, created_at, next_deadline, companies, data)


def _filters(
    reader: str | None, statuses: Collection[str] | None, before: tuple[int, str] | None
) -> tuple[str, str, list[object]]:
    """FROM/WHERE clauses and their parameters, and the table whose columns order the page."""
    params: list[object] = []
    if reader is None:
        source, order = "catalog c", "c"
        where = ["true"]
    else:
        source = "catalog_readers r JOIN catalog c ON c.stream_id = r.stream_id"
        order = "r"
        params.append(reader)
        where = [f"r.company_id = ${len(params)}"]
    if statuses is not None:
        params.append(sorted(set(statuses)))
        where.append(f"c.status = ANY(${len(params)}::text[])")
    if before is not None:
        params += [before[0], before[1]]
        where.append(
            f"({order}.created_at, {order}.stream_id) < (${len(params) - 1}, ${len(params)})"
        )
    return f"FROM {source} WHERE {' AND '.join(where)}", order, params


class CatalogReads:
    """`PostgresEventStore`'s catalog reads (`EventStore.catalog` and the rest)."""

    async def _fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
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
        clauses, order, params = _filters(reader, statuses, before)
        sql = (
            f"SELECT {COLUMNS} {clauses} ORDER BY {order}.created_at DESC, "
            f"{order}.stream_id DESC LIMIT ${len(params) + 1}"
        )
        return [_entry(r) for r in await self._fetch(sql, *params, limit)]

    async def catalog_count(
        self, *, reader: str | None = None, statuses: Collection[str] | None = None
    ) -> int:
        clauses, _, params = _filters(reader, statuses, None)
        rows = await self._fetch(f"SELECT COUNT(*) {clauses}", *params)
        return int(rows[0][0])

    async def catalog_entry(self, stream_id: str) -> CatalogEntry | None:
        rows = await self._fetch(
            f"SELECT {COLUMNS} FROM catalog c WHERE c.stream_id = $1", stream_id
        )
        return _entry(rows[0]) if rows else None

    async def scheduled(self) -> list[tuple[str, int]]:
        return [(r[0], r[1]) for r in await self._fetch(SELECT_SCHEDULED)]

    async def listing(self) -> list[tuple[str, int, str, bytes]]:
        """Every catalog row as (stream_id, seq, status, encoded summary), by stream id."""
        sql = "SELECT stream_id, seq, status, data FROM catalog ORDER BY stream_id"
        return [(r[0], r[1], r[2], r[3]) for r in await self._fetch(sql)]

    async def uncatalogued(self) -> list[tuple[str, int, int]]:
        """(stream_id, highest seq, catalogued seq or 0) of each stream with events that its
        catalog row does not include (or no row), in one query: for `auctions` and operators."""
        return [(r[0], r[1], r[2]) for r in await self._fetch(SELECT_BEHIND)]

    async def _catalog_damage(self) -> list[Damage]:
        problem = "catalog readers index differs from the catalog row"
        return [Damage(r[0], r[1], problem) for r in await self._fetch(SELECT_INDEX_DAMAGE)]
