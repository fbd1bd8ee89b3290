"""Rebuilding an auction from its events: what a restarted actor and the offline `replay`
command both do. Pure apart from the read; no notification is sent, nothing is written.

A rebuild starts from the stream's snapshot when it can use it (this code's version, at or
before ``until_seq``, its seq still in the stream, decodable) and folds only the events after
it; otherwise it folds from seq 1. A snapshot is a cache: one that cannot be used is logged and
skipped, never a reason to quarantine an auction (`verify` reports a wrong one).

Every rebuild runs beside live traffic (an actor loading, a ``subscribe_all`` page, a past view):
events are folded `FOLD_PIECE` at a time with a turn of the event loop between two pieces
(`fold_in_pieces`), so that no rebuild holds the loop for more than a few milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from auctionactors.domain.state import AuctionState, evolve
from auctionactors.errors import AuctionActorsError, StoreError
from auctionactors.store.base import EventStore, StoredEvent, StreamTail
from auctionactors.store.codec import SNAPSHOT_VERSION, decode_event, decode_snapshot

log = logging.getLogger(__name__)

FOLD_PIECE = 200  # events decoded and applied in one turn of the event loop (about 2 ms)


class ReplayFailed(AuctionActorsError):
    """An event of the stream cannot be decoded or applied: the auction is poisoned at ``seq``."""

    def __init__(self, stream_id: str, seq: int, error: str) -> None:
        super().__init__(f"{stream_id} seq {seq}: {error}")
        self.stream_id = stream_id
        self.seq = seq
        self.error = error


async def rebuild(
    store: EventStore,
    stream_id: str,
    *,
    until_seq: int | None = None,
    use_snapshot: bool = True,
) -> AuctionState | None:
    """The auction's state after its events up to ``until_seq`` (all by default); None if the
    stream is empty. Raises `ReplayFailed` naming the first event that cannot be applied.
    ``use_snapshot=False`` folds from seq 1 (to compare, or to measure)."""
    if use_snapshot:
        state, after = await _from_snapshot(store, stream_id, until_seq)
        if after is not None:
            try:
                return await fold_in_pieces(stream_id, state, after)
            except ReplayFailed as exc:  # maybe the snapshot's fault: the events decide
                log.warning(
                    "%s: %s after the snapshot; folding from seq 1",
                    stream_id,
                    exc,
                    extra={"auction_id": stream_id, "seq": exc.seq},
                )
    stored = await store.read_stream(stream_id, to_seq=until_seq)
    return await fold_in_pieces(stream_id, None, stored)


async def _from_snapshot(
    store: EventStore, stream_id: str, until_seq: int | None, limit: int | None = None
) -> tuple[AuctionState | None, list[StoredEvent] | None]:
    """The snapshot's state and the events after it (``limit``: of those from the snapshot's
    own seq, at most that many); (None, None) if there is no usable one."""
    snapshot = await store.latest_snapshot(stream_id)
    if snapshot is None or snapshot.version != SNAPSHOT_VERSION:
        return None, None  # none, or of another shape of the state: fold from seq 1
    if until_seq is not None and snapshot.seq > until_seq:
        return None, None
    # From the snapshot's own seq: its event must still be there (a snapshot beyond the stream,
    # say of a restored older copy, is ignored).
    stored = await store.read_stream(
        stream_id, from_seq=snapshot.seq, to_seq=until_seq, limit=limit
    )
    if not stored or stored[0].seq != snapshot.seq:
        log.warning(
            "%s: snapshot at seq %d is beyond the stream; ignored",
            stream_id,
            snapshot.seq,
            extra={"auction_id": stream_id, "seq": snapshot.seq},
        )
        return None, None
    try:
        state = decode_snapshot(stream_id, snapshot)
    except StoreError as exc:
        log.warning(
            "%s: snapshot ignored: %s",
            stream_id,
            exc,
            extra={"auction_id": stream_id, "seq": snapshot.seq},
        )
        return None, None
    return state, stored[1:]


async def rebuild_in_pieces(
    store: EventStore, stream_id: str, until_seq: int, piece: int = 2000
) -> AuctionState | None:
    """`rebuild` up to ``until_seq`` for a reader beside live traffic (``get_view`` with
    ``at_seq``): from the snapshot when it is at or before ``until_seq``, the events read
    ``piece`` at a time (and folded `FOLD_PIECE` at a time), so that a 100k-event auction is
    never in memory at once, nor holds the loop for more than a few milliseconds."""
    state = await _snapshot_before(store, stream_id, until_seq)
    if state is not None:
        try:
            return await _fold_pieces(store, stream_id, state, until_seq, piece)
        except ReplayFailed as exc:  # maybe the snapshot's fault: the events decide
            log.warning(
                "%s: %s after the snapshot; folding from seq 1",
                stream_id,
                exc,
                extra={"auction_id": stream_id, "seq": exc.seq},
            )
    return await _fold_pieces(store, stream_id, None, until_seq, piece)


async def _fold_pieces(
    store: EventStore, stream_id: str, state: AuctionState | None, until_seq: int, piece: int
) -> AuctionState | None:
    next_seq = 1 if state is None else state.seq + 1
    while next_seq <= until_seq:
        stored = await store.read_stream(
            stream_id, from_seq=next_seq, to_seq=until_seq, limit=piece
        )
        if not stored:
            break
        state = await fold_in_pieces(stream_id, state, stored)
        assert state is not None
        next_seq = state.seq + 1
        await asyncio.sleep(0)
    return state


async def _snapshot_before(
    store: EventStore, stream_id: str, until_seq: int
) -> AuctionState | None:
    """The snapshot's state if it is usable for a rebuild up to ``until_seq`` (see `rebuild`;
    the events after it are read in pieces by the caller)."""
    state, _ = await _from_snapshot(store, stream_id, until_seq, limit=1)
    return state


async def rebuild_many(store: EventStore, stream_ids: Sequence[str]) -> list[AuctionState | None]:
    """`rebuild` of each stream (its state now; None for an empty one), in ``stream_ids``' order,
    with one read for them all (`EventStore.tails`): a finished auction's state is its final
    snapshot, decoded, nothing folded. A stream whose snapshot cannot be used is rebuilt on
    its own (`rebuild`); one that cannot be rebuilt raises `ReplayFailed`. A turn of the event
    loop between two streams, and between two pieces of one (`fold_in_pieces`)."""
    states: list[AuctionState | None] = []
    for tail in await store.tails(stream_ids):
        usable, state = await _from_tail(tail)
        states.append(state if usable else await rebuild(store, tail.stream_id))
        await asyncio.sleep(0)
    return states


async def _from_tail(tail: StreamTail) -> tuple[bool, AuctionState | None]:
    """(True, the stream's state) from its tail; (False, None) when it cannot be used as it
    is (`rebuild` then logs why, and folds from seq 1 if it must)."""
    snapshot, stored = tail.snapshot, tail.events
    try:
        if snapshot is None:
            if stored and stored[0].seq != 1:
                return False, None
            return True, await fold_in_pieces(tail.stream_id, None, stored)
        if snapshot.version != SNAPSHOT_VERSION or not stored or stored[0].seq != snapshot.seq:
            return False, None
        state = decode_snapshot(tail.stream_id, snapshot)
        return True, await fold_in_pieces(tail.stream_id, state, stored[1:])
    except (StoreError, ReplayFailed):
        return False, None


async def fold_in_pieces(
    stream_id: str, state: AuctionState | None, stored: Sequence[StoredEvent]
) -> AuctionState | None:
    """`fold`, `FOLD_PIECE` events at a time with a turn of the event loop between two pieces."""
    for start in range(0, len(stored), FOLD_PIECE):
        if start:
            await asyncio.sleep(0)
        state = fold(stream_id, state, stored[start : start + FOLD_PIECE])
    return state


def fold(
    stream_id: str, state: AuctionState | None, stored: Sequence[StoredEvent]
) -> AuctionState | None:
    """``state`` (None: before seq 1) after the ``stored`` events that follow it."""
    expected = 1 if state is None else state.seq + 1
    for record in stored:
        if record.seq != expected:
            raise ReplayFailed(stream_id, expected, f"missing event (next stored is {record.seq})")
        try:
            state = evolve(state, decode_event(record))
        except Exception as exc:
            raise ReplayFailed(stream_id, record.seq, f"{type(exc).__name__}: {exc}") from exc
        if state.seq != record.seq:
            raise ReplayFailed(stream_id, record.seq, f"state at seq {state.seq} after applying")
        expected += 1
    return state
