"""Encoding of domain events for the store: compact JSON (readable with the sqlite3 shell, for
auditors), decoded by a msgspec tagged union. The type name stored beside the payload is the
event's stable tag, never a module path.

Snapshots of an auction's state are msgpack (a cache of the fold, never read by auditors: the
events are the truth). Their version is a hash of the state's JSON schema, nested types
included, so any change to the state's shape makes older snapshots unusable, and they are
ignored rather than misread.

A snapshot holds the bid history as the bytes of one msgpack array (`AuctionState`'s
``history_raw``, a msgpack bin): a load skips and keeps it without parsing it, so loading a
100k-bid auction costs what reading its row does. Encoding first merges the bids appended since
(``history_new``) into that array without decoding it, so a state has one encoding whatever its
load path (folded from seq 1, or a snapshot plus later events): `canonical` is what
replay-equals-live compares.
"""

from __future__ import annotations

import hashlib
from typing import TypeVar

import msgspec

from auctionactors.domain.catalog import Summary, summarize
from auctionactors.domain.events import AnyEvent, Event, event_type
from auctionactors.domain.state import AuctionState, Bid
from auctionactors.errors import CorruptionError
from auctionactors.store.base import CatalogEntry, NewEvent, Snapshot, StoredEvent

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)
_state_encoder = msgspec.msgpack.Encoder()
_state_decoder = msgspec.msgpack.Decoder(AuctionState)
_bids_encoder = msgspec.msgpack.Encoder()
# Sets (the readers) in sorted order: the same summary is always the same bytes, whatever the
# process's hash seed, so `verify` can compare a stored row with the fold of its events.
_summary_encoder = msgspec.msgpack.Encoder(order="deterministic")
_summary_decoder = msgspec.msgpack.Decoder(Summary)

SNAPSHOT_VERSION = hashlib.sha256(
    msgspec.json.encode(msgspec.json.schema(AuctionState), order="sorted")
).hexdigest()[:16]


def encode_event(event: Event) -> NewEvent:
    return NewEvent(type=event_type(event), data=_encoder.encode(event))


def decode_event(stored: StoredEvent) -> Event:
    """Decode one stored event; `CorruptionError` (naming stream and seq) if it cannot be."""
    try:
        event: Event = _decoder.decode(stored.data)
    except msgspec.DecodeError as exc:
        raise CorruptionError(
            f"{stored.stream_id} seq {stored.seq}: cannot decode {stored.type}: {exc}"
        ) from None
    if event_type(event) != stored.type:
        raise CorruptionError(
            f"{stored.stream_id} seq {stored.seq}: stored as {stored.type} "
            f"but holds {event_type(event)}"
        )
    return event


def decode_events(stored: list[StoredEvent]) -> list[Event]:
    return [decode_event(s) for s in stored]


def encode_snapshot(state: AuctionState) -> Snapshot:
    """The state as a snapshot at its seq, in its canonical encoding (on the caller's thread:
    it encodes the bids placed since the last snapshot and copies the older ones' bytes)."""
    return Snapshot(state.seq, SNAPSHOT_VERSION, canonical(state))


def canonical(state: AuctionState) -> bytes:
    """The state's one encoding: equal states (the same events folded, by whatever path) give
    equal bytes. The history is merged into its encoded part first (in place: the state's
    value does not change, and the next snapshot encodes only the bids placed after it)."""
    if state.history_new:
        state.absorb_history(_merged(state.history_raw, state.history_new))
    return _state_encoder.encode(state)


def _merged(raw: memoryview, bids: list[Bid]) -> memoryview:
    """The msgpack array of ``raw``'s items then ``bids``, built from the two arrays' bodies
    (``raw`` is not decoded): msgspec writes the shortest header, and so does this, so the
    bytes are those of encoding the whole list at once."""
    old_count, old_body = _array_parts(raw)
    new_count, new_body = _array_parts(memoryview(_bids_encoder.encode(bids)))
    count = old_count + new_count
    if count < 16:
        header = bytes((0x90 + count,))
    elif count < 2**16:
        header = b"\xdc" + count.to_bytes(2, "big")
    else:
        header = b"\xdd" + count.to_bytes(4, "big")
    return memoryview(b"".join((header, old_body, new_body)))


def _array_parts(data: memoryview) -> tuple[int, memoryview]:
    """A msgpack array's length (from its fixarray, array 16 or array 32 header) and body."""
    head = data[0]
    if 0x90 <= head <= 0x9F:
        return head - 0x90, data[1:]
    if head == 0xDC:
        return int.from_bytes(data[1:3], "big"), data[3:]
    if head == 0xDD:
        return int.from_bytes(data[1:5], "big"), data[5:]
    raise ValueError(f"not a msgpack array (header byte {head:#x})")


def decode_snapshot(stream_id: str, snapshot: Snapshot) -> AuctionState:
    """The state a snapshot holds; `CorruptionError` if it does not decode to one at its seq.
    Check ``snapshot.version == SNAPSHOT_VERSION`` first: another version is not an error."""
    try:
        state = _state_decoder.decode(snapshot.data)
    except msgspec.DecodeError as exc:
        raise CorruptionError(f"{stream_id} snapshot at seq {snapshot.seq}: {exc}") from None
    try:  # the history stays encoded (see the module docstring): only its header is read
        _array_parts(state.history_raw)
    except (ValueError, IndexError):
        raise CorruptionError(
            f"{stream_id} snapshot at seq {snapshot.seq}: its bid history is not an array"
        ) from None
    if state.seq != snapshot.seq or state.auction_id != stream_id:
        raise CorruptionError(
            f"{stream_id} snapshot at seq {snapshot.seq} holds {state.auction_id} "
            f"at seq {state.seq}"
        )
    return state


def catalog_entry(state: AuctionState) -> CatalogEntry:
    """The state's catalog row (its summary, encoded, beside the columns the store indexes)."""
    return encode_summary(summarize(state))


_INT64 = (-(2**63), 2**63 - 1)


def _fit(value: int | None) -> int | None:
    """An integer in the 64 bits the catalog's columns and msgpack hold: data an older version
    let through out of bounds is clamped, so it still has a row (and its appends never fail)."""
    return None if value is None else min(max(value, _INT64[0]), _INT64[1])


def encode_summary(summary: Summary) -> CatalogEntry:
    summary = msgspec.structs.replace(
        summary,
        created_at=_fit(summary.created_at),
        scheduled_start=_fit(summary.scheduled_start),
        closes_at=_fit(summary.closes_at),
        decision_closes_at=_fit(summary.decision_closes_at),
        next_deadline=_fit(summary.next_deadline),
        winning_total=_fit(summary.winning_total),
    )
    return CatalogEntry(
        stream_id=summary.auction_id,
        seq=summary.seq,
        status=summary.status,
        created_at=summary.created_at,
        next_deadline=summary.next_deadline,
        readers=tuple(sorted(summary.readers)),
        data=_summary_encoder.encode(summary),
    )


def decode_summary(entry: CatalogEntry) -> Summary:
    """The summary a catalog row holds; `CorruptionError` if it does not decode to one."""
    return _decode(_summary_decoder, entry.stream_id, entry.data)


class _Named(msgspec.Struct):
    name: str


class Listed(msgspec.Struct):
    """What `auctionactors auctions` shows of a summary: decoding only these fields (the rest
    is skipped, not built) is about three times faster than the whole `Summary`."""

    auction_id: str
    status: str
    seq: int
    port: str
    buyer: _Named
    scheduled_start: int | None
    closes_at: int | None
    decision_closes_at: int | None = None


_listed_decoder = msgspec.msgpack.Decoder(Listed)


def decode_listed(stream_id: str, data: bytes) -> Listed:
    """`Listed` from a row's ``data`` (as `SqliteEventStore.listing` reads it)."""
    return _decode(_listed_decoder, stream_id, data)


T = TypeVar("T", Summary, Listed)


def _decode(decoder: msgspec.msgpack.Decoder[T], stream_id: str, data: bytes) -> T:
    try:
        found = decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise CorruptionError(f"{stream_id} catalog row: {exc}") from None
    if found.auction_id != stream_id:
        raise CorruptionError(f"{stream_id} catalog row holds {found.auction_id}")
    return found
