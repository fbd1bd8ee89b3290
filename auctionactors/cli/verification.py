"""What `auctionactors verify` checks, stream by stream: the store's own check (gapless seqs, the
hash chain), then every event decoded and folded, the snapshot and the catalog row compared with
the fold. Apart from `commands` so that each stays short.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auctionactors.domain.state import AuctionState, evolve
from auctionactors.errors import CorruptionError
from auctionactors.store.base import CatalogEntry, EventStore, Snapshot
from auctionactors.store.codec import SNAPSHOT_VERSION, catalog_entry, decode_event, encode_snapshot


@dataclass
class Report:
    streams: int = 0
    events: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def add(self, stream_id: str, seq: int, problem: str) -> None:
        self.problems.append({"stream_id": stream_id, "seq": seq, "problem": problem})


async def check(store: EventStore) -> Report:
    report = Report()
    for d in await store.check():
        report.add(d.stream_id, d.seq, d.problem)
    streams = await store.streams()
    report.streams = len(streams)
    rows = {row.stream_id: row for row in await store.catalog()}
    for info in streams:
        snapshot = await store.latest_snapshot(info.stream_id)
        if snapshot is not None and snapshot.version != SNAPSHOT_VERSION:
            snapshot = None  # of an older shape of the state: ignored by replay too
        state = await _fold(store, info.stream_id, snapshot, report)
        if snapshot is not None and snapshot.seq > info.highest_seq:
            problem = f"snapshot beyond the stream (highest seq {info.highest_seq})"
            report.add(info.stream_id, snapshot.seq, problem)
        row = rows.pop(info.stream_id, None)
        if state is not None:  # else the event that stopped the fold is reported already
            _check_row(info.stream_id, state, row, report)
    for row in rows.values():
        report.add(row.stream_id, row.seq, "catalog row of a stream without events")
    return report


async def _fold(
    store: EventStore, stream_id: str, snapshot: Snapshot | None, report: Report
) -> AuctionState | None:
    """Decode every event, and fold them too: an event that decodes but can no longer be
    applied (it would quarantine the auction) is damage as well. After the first such event the
    fold stops (None is returned); decoding goes on to the end."""
    state: AuctionState | None = None
    folding = True
    for record in await store.read_stream(stream_id):
        report.events += 1
        try:
            event = decode_event(record)
        except CorruptionError as exc:
            report.add(stream_id, record.seq, str(exc))
            folding = False
            continue
        if not folding:
            continue
        try:
            state = evolve(state, event)
        except Exception as exc:
            report.add(stream_id, record.seq, f"cannot be applied: {type(exc).__name__}: {exc}")
            folding = False
            continue
        if (
            snapshot is not None
            and snapshot.seq == record.seq
            and encode_snapshot(state).data != snapshot.data
        ):
            report.add(stream_id, record.seq, "snapshot differs from the fold of its events")
    return state if folding else None


def _check_row(
    stream_id: str, state: AuctionState, row: CatalogEntry | None, report: Report
) -> None:
    """The catalog row must be exactly what the runtime writes for the folded state (its summary
    is encoded deterministically, so equal states give equal bytes)."""
    if row is None:
        report.add(stream_id, state.seq, "no catalog row")
        return
    expected = catalog_entry(state)
    if row.seq != expected.seq:
        report.add(stream_id, row.seq, f"catalog row at seq {row.seq}, the stream at {state.seq}")
    elif row != expected:
        report.add(stream_id, row.seq, "catalog row differs from the fold of its events")
