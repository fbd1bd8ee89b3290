"""Rebuilding an auction from its events: what a restarted actor and the offline `replay`
command both do. Pure apart from the read; no notification is sent, nothing is written."""

from __future__ import annotations

from auctionactors.domain.state import AuctionState, evolve
from auctionactors.errors import AuctionActorsError
from auctionactors.store.base import EventStore
from auctionactors.store.codec import decode_event


class ReplayFailed(AuctionActorsError):
    """An event of the stream cannot be decoded or applied: the auction is poisoned at ``seq``."""

    def __init__(self, stream_id: str, seq: int, error: str) -> None:
        super().__init__(f"{stream_id} seq {seq}: {error}")
        self.stream_id = stream_id
        self.seq = seq
        self.error = error


async def rebuild(
    store: EventStore, stream_id: str, *, until_seq: int | None = None
) -> AuctionState | None:
    """The auction's state after its events up to ``until_seq`` (all by default); None if the
    stream is empty. Raises `ReplayFailed` naming the first event that cannot be applied."""
    stored = await store.read_stream(stream_id, to_seq=until_seq)
    state: AuctionState | None = None
    expected = 1
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
