"""The `EventStore` and `Accounts` protocols every storage backend implements.

The store knows streams of opaque event payloads, not auction rules: an event is its stable type
name and its encoded bytes (see `codec.py`). Nothing here is specific to SQLite, so that a
PostgreSQL backend shared by several nodes can implement the same protocol later; for that an
append already carries an optional ``writer_token`` (a lease's fencing token), which single-node
backends accept and ignore.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from typing import NamedTuple, Protocol

import msgspec

# Re-exported: accounts speak of roles too, and the domain owns their definition.
from auctionactors.domain.parties import ROLES as ROLES
from auctionactors.domain.parties import Role as Role
from auctionactors.errors import StorageUnavailable, StoreError
from auctionactors.store.deliveries import Deliveries as Deliveries
from auctionactors.store.deliveries import ParkedDelivery as ParkedDelivery
from auctionactors.store.deliveries import Reminder as Reminder

GENESIS_HASH = b"\x00" * 32


class NewEvent(msgspec.Struct, frozen=True):
    """An event about to be appended: its stable type name and its encoded payload."""

    type: str
    data: bytes


class StoredEvent(msgspec.Struct, frozen=True):
    """An event as the store holds it.

    ``seq`` is gapless per stream from 1; ``position`` is global across streams and increases in
    commit order; ``hash`` chains this event to the previous one of its stream (see `chain_hash`).
    """

    stream_id: str
    seq: int
    position: int
    type: str
    data: bytes
    hash: bytes


class AppendResult(msgspec.Struct, frozen=True):
    """Where an append landed: the stream's new highest ``seq`` and the last global position."""

    last_seq: int
    last_position: int


class StreamInfo(msgspec.Struct, frozen=True):
    stream_id: str
    highest_seq: int


class KeyRecord(msgspec.Struct, frozen=True):
    """An applied idempotency key (PROTOCOL.md 1.1, "Idempotency keys"), stored in the same
    transaction as the events of the command that carried it.

    ``scope`` is the auction id for a command on an auction, and ``""`` for ``create_auction``
    (whose keys are per user). ``fingerprint`` identifies the request (a hash of its canonical
    form without ``id`` and ``key``): the same key with another fingerprint is refused. ``seq``
    and ``result`` (the ``ok`` reply's fields, JSON) are what a repeated command is answered.
    """

    scope: str
    user_id: str
    key: str
    fingerprint: bytes
    seq: int
    result: bytes


class Snapshot(msgspec.Struct, frozen=True):
    """A stream's state after its events up to ``seq``, encoded (see `codec.encode_snapshot`).

    ``version`` names the shape of the encoded state: a snapshot of another version is ignored
    by its readers (they fold from seq 1), so changing the state's shape needs no migration.
    The store keeps only the latest snapshot of each stream.
    """

    seq: int
    version: str
    data: bytes


class StreamTail(NamedTuple):
    """A stream's latest snapshot and the events from its seq on (see `EventStore.tails`)."""

    stream_id: str
    snapshot: Snapshot | None
    events: list[StoredEvent]


class CatalogEntry(msgspec.Struct, frozen=True):
    """One stream's row in the catalog, written in the same transaction as its events: what
    lists, quotas and the timer heap read without loading the stream.

    The store indexes the columns and keeps ``data`` (the encoded summary, see
    `codec.encode_summary`) opaque. ``seq`` is the stream's seq after the append that wrote the
    row; ``readers`` are the companies (other than admins) that may see the stream;
    ``next_deadline`` is None once nothing will happen to it on the clock.
    """

    stream_id: str
    seq: int
    status: str
    created_at: int
    next_deadline: int | None
    readers: tuple[str, ...]
    data: bytes


class Damage(msgspec.Struct, frozen=True):
    """One problem found by `EventStore.check`: which stream, at which seq, and what."""

    stream_id: str
    seq: int
    problem: str


def chain_hash(prev_hash: bytes, stream_id: str, seq: int, type_: str, data: bytes) -> bytes:
    """The hash chain link: sha256 over the previous hash and this event's identity and content.

    Editing, deleting, inserting or reordering any event of a stream changes every hash after it,
    so `EventStore.check` detects it. Length prefixes keep field boundaries unambiguous.
    """
    h = hashlib.sha256(prev_hash)
    for part in (stream_id.encode(), str(seq).encode(), type_.encode(), data):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.digest()


def check_limit(limit: int | None) -> None:
    """`ValueError` for a negative read ``limit`` (None: no limit; 0: nothing)."""
    if limit is not None and limit < 0:
        raise ValueError("limit must be >= 0")


READ_ONLY_MESSAGE = "the store is open read-only"


def check_append(
    stream_id: str,
    expected_seq: int,
    events: Sequence[NewEvent],
    keys: Sequence[KeyRecord],
    snapshot: Snapshot | None,
    catalog: CatalogEntry | None,
    *,
    writable: bool = True,
) -> None:
    """The checks of `EventStore.append` made before anything is queued: `StoreError` for a
    store open read-only (not ``writable``), `ValueError`/`TypeError` for an append that is
    empty, has a negative ``expected_seq``, event data that is not bytes, or a snapshot or
    catalog row that cannot go with it."""
    if not writable:
        raise StoreError(READ_ONLY_MESSAGE)
    if not events and not keys:
        raise ValueError("append needs at least one event (or key)")
    if expected_seq < 0:
        raise ValueError("expected_seq must be >= 0")
    for event in events:
        if not isinstance(event.data, bytes):
            raise TypeError(f"event data must be bytes, not {type(event.data).__name__}")
    if snapshot is not None:
        check_snapshot(expected_seq, events, snapshot)
    if catalog is not None:
        check_catalog(stream_id, expected_seq, events, catalog)


def check_snapshot(expected_seq: int, events: Sequence[NewEvent], snapshot: Snapshot) -> None:
    """`ValueError` unless ``snapshot`` may go with an append of ``events`` after
    ``expected_seq`` (see `EventStore.append`)."""
    if not events:
        raise ValueError("a snapshot goes with events, never with keys alone")
    if not 1 <= snapshot.seq <= expected_seq + len(events):
        raise ValueError(
            f"snapshot seq {snapshot.seq} outside 1..{expected_seq + len(events)} of its append"
        )
    if not isinstance(snapshot.data, bytes):
        raise TypeError(f"snapshot data must be bytes, not {type(snapshot.data).__name__}")


def check_catalog(
    stream_id: str, expected_seq: int, events: Sequence[NewEvent], entry: CatalogEntry
) -> None:
    """`ValueError` unless ``entry`` may be the catalog row written with an append of ``events``
    to ``stream_id`` after ``expected_seq`` (see `EventStore.append`)."""
    if not events:
        raise ValueError("a catalog row goes with events, never with keys alone")
    if entry.stream_id != stream_id:
        raise ValueError(f"catalog row of {entry.stream_id!r} in an append to {stream_id!r}")
    if entry.seq != expected_seq + len(events):
        raise ValueError(
            f"catalog row at seq {entry.seq}, but the append ends at {expected_seq + len(events)}"
        )
    if not isinstance(entry.data, bytes):
        raise TypeError(f"catalog data must be bytes, not {type(entry.data).__name__}")


def storage_failure(exc: BaseException) -> StoreError:
    """How a failed write reaches its caller: store errors as they are, anything else (an I/O
    error, a full disk, a fault injected by a test) as `StorageUnavailable` caused by it."""
    if isinstance(exc, StoreError):
        return exc
    failure = StorageUnavailable(f"storage failed, nothing written: {exc}")
    failure.__cause__ = exc
    return failure


class EventStore(Protocol):
    """Append-only streams with optimistic concurrency, gapless ``seq`` and a global position."""

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
        """Append ``events`` atomically after ``expected_seq`` (0 for a new stream), and store
        ``keys``, ``snapshot`` and the stream's ``catalog`` row in the same transaction.

        Returns only once the events are durable. Raises `ConcurrencyError` when the stream's
        highest seq is not ``expected_seq`` (nothing is written), `DuplicateKey` when one of
        ``keys`` (by scope, user and key) is already stored (nothing is written; checked before
        the seq: an applied key wins over a stale state),
        `StorageUnavailable` when the storage fails (nothing is written), `OutcomeUnknown` when
        it cannot tell whether the write happened. ``events`` may be empty only when ``keys``
        are given: the keys of commands that changed nothing are then stored alone (the stream
        must still be at ``expected_seq``; the result's ``last_position`` is 0). Empty
        ``events`` and ``keys`` are a `ValueError`. A ``snapshot`` replaces the stream's
        stored one; it needs events (a keys-only append carries none) and a seq from 1 to the
        stream's seq after them, else `ValueError` (nothing is written). A ``catalog`` row
        replaces the stream's; it needs events, and its ``seq`` and ``stream_id`` must be the
        stream's after them, else `ValueError` (nothing is written).
        """
        ...

    async def catalog(
        self,
        *,
        reader: str | None = None,
        statuses: Collection[str] | None = None,
        before: tuple[int, str] | None = None,
        limit: int | None = None,
    ) -> list[CatalogEntry]:
        """Catalog rows, newest first: by ``created_at`` then ``stream_id``, both descending.
        Only rows ``reader`` (a company id; None: every row) is among the readers of, only in
        ``statuses`` (None: any), only those before ``before`` = (created_at, stream_id) in
        that order (a page's cursor), at most ``limit``."""
        ...

    async def catalog_count(
        self, *, reader: str | None = None, statuses: Collection[str] | None = None
    ) -> int:
        """How many rows `catalog` would return without ``before`` and ``limit``."""
        ...

    async def catalog_entry(self, stream_id: str) -> CatalogEntry | None:
        """The stream's catalog row, or None."""
        ...

    async def scheduled(self) -> list[tuple[str, int]]:
        """(stream_id, next_deadline) of every row that has a next deadline, by deadline."""
        ...

    async def latest_snapshot(self, stream_id: str) -> Snapshot | None:
        """The stream's stored snapshot (the latest written), or None."""
        ...

    async def tails(self, stream_ids: Sequence[str]) -> list[StreamTail]:
        """Each stream's latest snapshot (None without one) and its events from that snapshot's
        seq on (every event without one), in ``stream_ids``' order, in one read: what rebuilding
        many auctions at once needs (`replay.rebuild_many`). Unknown streams give no events."""
        ...

    async def find_keys(
        self, scope: str, user_id: str, keys: Sequence[str]
    ) -> dict[str, KeyRecord]:
        """The stored records of those of ``keys`` that were applied by ``user_id`` in
        ``scope``, by key (absent keys are left out)."""
        ...

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_seq: int = 1,
        to_seq: int | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """Events of one stream with ``from_seq <= seq <= to_seq``, in seq order, at most
        ``limit`` (``limit=0`` gives none). An unknown stream gives an empty list."""
        ...

    async def read_all(
        self, *, from_position: int = 1, limit: int | None = None
    ) -> list[StoredEvent]:
        """Events of every stream from a global position on, in position order."""
        ...

    async def highest_seq(self, stream_id: str) -> int:
        """The stream's highest seq; 0 for an unknown stream."""
        ...

    async def streams(self) -> list[StreamInfo]:
        """Every stream with its highest seq, ordered by stream id."""
        ...

    async def check(self) -> list[Damage]:
        """Check every stream: gapless seqs from 1 and an intact hash chain. Empty = healthy."""
        ...

    async def close(self) -> None:
        """Finish pending appends and release the storage."""
        ...


class Principal(msgspec.Struct, frozen=True):
    """Who a token belongs to: the user and their company (the unit of visibility)."""

    user_id: str
    user_name: str
    company_id: str
    company_name: str
    role: Role


class NewUser(msgspec.Struct, frozen=True):
    """What `Accounts.add_user` returns. The token is shown once; only its hash is stored."""

    company_id: str
    user_id: str
    token: str


class Recipient(msgspec.Struct, frozen=True):
    """A user with a mail address, as notifications need it."""

    user_id: str
    user_name: str
    company_id: str
    email: str


class Company(msgspec.Struct, frozen=True):
    company_id: str
    name: str
    role: Role


class Accounts(Protocol):
    """Companies, users and their bearer tokens (stored hashed)."""

    async def add_user(
        self, company_name: str, role: Role, user_name: str, email: str | None = None
    ) -> NewUser:
        """Create the user (and the company if its name is new) and a fresh token; ``email``
        is where notifications go (None: none are sent to this user).

        Raises `UsageError` if the company exists with another role, or for a bad address.
        """
        ...

    async def recipients(self, company_ids: Collection[str]) -> list[Recipient]:
        """The users of those companies that have a mail address, by company then user id."""
        ...

    async def authenticate(self, token: str) -> Principal | None:
        """The token's owner, or None for an unknown or revoked token."""
        ...

    async def user(self, user_id: str) -> Principal | None:
        """A user by id (for an admin acting ``as_user``), or None if unknown."""
        ...

    async def company(self, company_id: str) -> Company | None: ...

    async def companies(
        self,
        *,
        roles: Collection[Role] | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[Company]:
        """Companies ordered by name then id: only those with a role in ``roles`` (None: any),
        only those after ``after`` = (name, company_id) in that order (a page's cursor), at most
        ``limit`` (None: no limit; 0: none)."""
        ...
