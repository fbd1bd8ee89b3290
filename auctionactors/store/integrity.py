"""Integrity checking shared by every backend: gapless seqs and an intact hash chain.

Each backend feeds its events, ordered by stream then seq, to `check_events`, so a damaged memory
store and a damaged SQLite file are judged by exactly the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable

from auctionactors.store.base import GENESIS_HASH, Damage, chain_hash

# (stream_id, seq, position, type, data, hash)
EventRow = tuple[str, int, int, str, bytes, bytes]


def check_events(rows: Iterable[EventRow]) -> list[Damage]:
    """Damage found in ``rows`` (sorted by stream id, then seq).

    Each link is checked against the *stored* hash of the previous event, so one edited event is
    reported once, at its own seq, instead of breaking every later link. A deleted event shows as
    a gap and as a broken link after it; swapped contents break both links; positions that do not
    increase with seq mean rows were reordered. (Deleting a stream's *last* events leaves no trace
    in the chain itself: that needs an anchor outside the stream, such as a replica.)
    """
    damage: list[Damage] = []
    current: str | None = None
    expected_seq = 1
    prev_hash = GENESIS_HASH
    prev_position = 0
    for stream_id, seq, position, type_, data, stored_hash in rows:
        if stream_id != current:
            current, expected_seq, prev_hash, prev_position = stream_id, 1, GENESIS_HASH, 0
        if seq != expected_seq:
            damage.append(
                Damage(stream_id, expected_seq, f"gap: expected seq {expected_seq}, found {seq}")
            )
        if chain_hash(prev_hash, stream_id, seq, type_, data) != stored_hash:
            damage.append(Damage(stream_id, seq, "hash chain broken: event edited, lost or moved"))
        if position <= prev_position:
            damage.append(Damage(stream_id, seq, f"position {position} not after {prev_position}"))
        expected_seq = seq + 1
        prev_hash = stored_hash
        prev_position = position
    return damage
