"""An in-memory `EventStore` and `Accounts`, for tests and for trying things out.

It keeps the exact semantics of the SQLite store (stale appends refused, gapless seqs, global
positions in commit order, the same hash chain and `check`), so a test that passes against it
says something about production. It also lets a test make storage fail on purpose, which a real
disk only does at the worst moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence

from auctionactors.errors import ConcurrencyError, DuplicateKey, StoreError
from auctionactors.store.base import (
    GENESIS_HASH,
    AppendResult,
    CatalogEntry,
    Company,
    Damage,
    KeyRecord,
    NewEvent,
    NewUser,
    Principal,
    Recipient,
    Role,
    Snapshot,
    StoredEvent,
    StreamInfo,
    StreamTail,
    chain_hash,
    check_append,
    check_limit,
    storage_failure,
)
from auctionactors.store.credentials import (
    check_email,
    check_new_user,
    new_company_id,
    new_token,
    new_user_id,
    role_clash,
    token_hash,
)
from auctionactors.store.integrity import check_events
from auctionactors.store.memory_deliveries import MemoryDeliveries

AppendHook = Callable[[str, int, Sequence[NewEvent]], None]


class MemoryEventStore(MemoryDeliveries):
    """Event streams and accounts held in dicts; nothing survives the process.

    Fault injection for tests of the layers above:

    * ``fail_next_append``: set it to an exception and the next append writes nothing and raises
      `StorageUnavailable` (or the exception itself if it is a `StoreError`); it then resets.
    * ``before_append``: a hook called with ``(stream_id, expected_seq, events)`` before each
      append is applied; whatever it raises is treated the same way, so a test can fail every
      append of one stream, or the third append, and so on.
    """

    def __init__(self) -> None:
        self._streams: dict[str, list[StoredEvent]] = {}
        self._all: list[StoredEvent] = []
        self._closed = False
        self.fail_next_append: BaseException | None = None
        self.before_append: AppendHook | None = None
        self._companies: dict[str, Company] = {}
        self._users: dict[str, tuple[str, str]] = {}  # user_id -> (name, company_id)
        self._tokens: dict[bytes, tuple[str, bool]] = {}  # token hash -> (user_id, revoked)
        self._keys: dict[tuple[str, str, str], KeyRecord] = {}  # (scope, user_id, key)
        self.snapshots: dict[str, Snapshot] = {}  # the latest per stream (tests may edit it)
        self.rows: dict[str, CatalogEntry] = {}  # the catalog (tests may edit it)
        self._emails: dict[str, str] = {}  # user_id -> e-mail address
        self._init_deliveries()

    async def append(
        self,
        stream_id: str,
        expected_seq: int,
        events: Sequence[NewEvent],
        *,
        writer_token: int | None = None,
        keys: Sequence[KeyRecord] = (),
        snapshot: Snapshot | None = None,
        catalog: CatalogEntry | None = None,
    ) -> AppendResult:
        """See `EventStore.append`. Yields to the loop first, as a real store's I/O would."""
        check_append(stream_id, expected_seq, events, keys, snapshot, catalog)
        self._ensure_open()
        await asyncio.sleep(0)
        self._ensure_open()
        fault, self.fail_next_append = self.fail_next_append, None
        if fault is not None:
            raise storage_failure(fault)
        if self.before_append is not None:
            try:
                self.before_append(stream_id, expected_seq, events)
            except Exception as exc:
                raise storage_failure(exc) from exc
        key_ids = [(k.scope, k.user_id, k.key) for k in keys]
        if len(set(key_ids)) != len(key_ids) or any(k in self._keys for k in key_ids):
            raise DuplicateKey(f"an idempotency key of this append to {stream_id!r} is stored")
        stream = self._streams.get(stream_id, [])
        if len(stream) != expected_seq:
            raise ConcurrencyError(
                f"stream {stream_id!r} is at seq {len(stream)}, not {expected_seq}"
            )
        prev_hash = stream[-1].hash if stream else GENESIS_HASH
        new: list[StoredEvent] = []
        position = len(self._all)
        for seq, event in enumerate(events, expected_seq + 1):
            position += 1
            prev_hash = chain_hash(prev_hash, stream_id, seq, event.type, event.data)
            new.append(StoredEvent(stream_id, seq, position, event.type, event.data, prev_hash))
        if new:
            self._streams.setdefault(stream_id, []).extend(new)
            self._all.extend(new)
        for key_id, record in zip(key_ids, keys, strict=True):
            self._keys[key_id] = record
        if snapshot is not None:
            self.snapshots[stream_id] = snapshot
        if catalog is not None:
            self.rows[stream_id] = catalog
        if not new:  # keys only (a command that changed nothing): no position of its own
            return AppendResult(last_seq=expected_seq, last_position=0)
        return AppendResult(last_seq=new[-1].seq, last_position=new[-1].position)

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_seq: int = 1,
        to_seq: int | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """See `EventStore.read_stream`."""
        self._ensure_open()
        check_limit(limit)
        stream = self._streams.get(stream_id, [])
        start = max(from_seq, 1) - 1
        stop = len(stream) if to_seq is None else max(min(to_seq, len(stream)), start)
        if limit is not None:
            stop = min(stop, start + limit)
        return stream[start:stop]

    async def read_all(
        self, *, from_position: int = 1, limit: int | None = None
    ) -> list[StoredEvent]:
        """See `EventStore.read_all`. Positions are dense here, so a slice is exact."""
        self._ensure_open()
        check_limit(limit)
        start = max(from_position, 1) - 1
        stop = len(self._all) if limit is None else start + limit
        return self._all[start:stop]

    async def find_keys(
        self, scope: str, user_id: str, keys: Sequence[str]
    ) -> dict[str, KeyRecord]:
        """See `EventStore.find_keys`."""
        self._ensure_open()
        found = {k: self._keys.get((scope, user_id, k)) for k in keys}
        return {k: record for k, record in found.items() if record is not None}

    async def catalog(
        self,
        *,
        reader: str | None = None,
        statuses: Collection[str] | None = None,
        before: tuple[int, str] | None = None,
        limit: int | None = None,
    ) -> list[CatalogEntry]:
        """See `EventStore.catalog`; sorts every row (fine for tests)."""
        check_limit(limit)
        rows = [
            e
            for e in self._catalog_rows(reader, statuses)
            if before is None or (e.created_at, e.stream_id) < before
        ]
        rows.sort(key=lambda e: (e.created_at, e.stream_id), reverse=True)
        return rows if limit is None else rows[:limit]

    async def catalog_count(
        self, *, reader: str | None = None, statuses: Collection[str] | None = None
    ) -> int:
        return len(self._catalog_rows(reader, statuses))

    async def catalog_entry(self, stream_id: str) -> CatalogEntry | None:
        self._ensure_open()
        return self.rows.get(stream_id)

    async def scheduled(self) -> list[tuple[str, int]]:
        self._ensure_open()
        due = [
            (e.next_deadline, e.stream_id)
            for e in self.rows.values()
            if e.next_deadline is not None
        ]
        return [(stream_id, at) for at, stream_id in sorted(due)]

    def _catalog_rows(
        self, reader: str | None, statuses: Collection[str] | None
    ) -> list[CatalogEntry]:
        self._ensure_open()
        return [
            e
            for e in self.rows.values()
            if (reader is None or reader in e.readers)
            and (statuses is None or e.status in statuses)
        ]

    async def latest_snapshot(self, stream_id: str) -> Snapshot | None:
        self._ensure_open()
        return self.snapshots.get(stream_id)

    async def tails(self, stream_ids: Sequence[str]) -> list[StreamTail]:
        """See `EventStore.tails`."""
        self._ensure_open()
        found = []
        for stream_id in stream_ids:
            snapshot = self.snapshots.get(stream_id)
            start = 0 if snapshot is None else snapshot.seq - 1
            found.append(StreamTail(stream_id, snapshot, self._streams.get(stream_id, [])[start:]))
        return found

    async def highest_seq(self, stream_id: str) -> int:
        self._ensure_open()
        return len(self._streams.get(stream_id, ()))

    async def streams(self) -> list[StreamInfo]:
        self._ensure_open()
        return [StreamInfo(sid, len(evs)) for sid, evs in sorted(self._streams.items())]

    async def check(self) -> list[Damage]:
        """See `EventStore.check`; the same rules as SQLite (`integrity.check_events`)."""
        self._ensure_open()
        return check_events(
            (e.stream_id, e.seq, e.position, e.type, e.data, e.hash)
            for _, stream in sorted(self._streams.items())
            for e in stream
        )

    async def close(self) -> None:
        """Appends here complete synchronously, so there is nothing pending to finish."""
        self._closed = True

    def _ensure_open(self) -> None:
        if self._closed:
            raise StoreError("event store is closed")

    # -- Accounts --------------------------------------------------------------------------------

    async def add_user(
        self, company_name: str, role: Role, user_name: str, email: str | None = None
    ) -> NewUser:
        """See `Accounts.add_user`. Only the token's hash is kept, as in SQLite."""
        self._ensure_open()
        role = check_new_user(company_name, role, user_name)
        email = check_email(email)
        company = next((c for c in self._companies.values() if c.name == company_name), None)
        if company is None:
            company = Company(new_company_id(), company_name, role)
            self._companies[company.company_id] = company
        elif company.role != role:
            raise role_clash(company_name, company.role, role)
        user_id = new_user_id()
        self._users[user_id] = (user_name, company.company_id)
        if email is not None:
            self._emails[user_id] = email
        token = new_token()
        self._tokens[token_hash(token)] = (user_id, False)
        return NewUser(company.company_id, user_id, token)

    async def authenticate(self, token: str) -> Principal | None:
        self._ensure_open()
        found = self._tokens.get(token_hash(token))
        if found is None or found[1]:
            return None
        user_name, company_id = self._users[found[0]]
        company = self._companies[company_id]
        return Principal(found[0], user_name, company_id, company.name, company.role)

    async def user(self, user_id: str) -> Principal | None:
        self._ensure_open()
        found = self._users.get(user_id)
        if found is None:
            return None
        user_name, company_id = found
        company = self._companies[company_id]
        return Principal(user_id, user_name, company_id, company.name, company.role)

    async def recipients(self, company_ids: Collection[str]) -> list[Recipient]:
        """See `Accounts.recipients`."""
        self._ensure_open()
        found = [
            Recipient(user_id, name, company_id, self._emails[user_id])
            for user_id, (name, company_id) in self._users.items()
            if company_id in company_ids and user_id in self._emails
        ]
        return sorted(found, key=lambda r: (r.company_id, r.user_id))

    async def revoke_token(self, token: str) -> bool:
        """Revoke a token (e.g. a leaked one); True if it existed and was active."""
        self._ensure_open()
        key = token_hash(token)
        found = self._tokens.get(key)
        if found is None or found[1]:
            return False
        self._tokens[key] = (found[0], True)
        return True

    async def company(self, company_id: str) -> Company | None:
        self._ensure_open()
        return self._companies.get(company_id)

    async def companies(
        self,
        *,
        roles: Collection[Role] | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[Company]:
        """See `Accounts.companies`: ordered by name then id (as SQLite returns them)."""
        self._ensure_open()
        check_limit(limit)
        rows = sorted(self._companies.values(), key=lambda c: (c.name, c.company_id))
        if roles is not None:
            rows = [c for c in rows if c.role in roles]
        if after is not None:
            rows = [c for c in rows if (c.name, c.company_id) > after]
        return rows if limit is None else rows[:limit]
