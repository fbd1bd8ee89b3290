"""Encoding of domain events for the store: compact JSON (readable with the sqlite3 shell, for
auditors), decoded by a msgspec tagged union. The type name stored beside the payload is the
event's stable tag, never a module path."""

from __future__ import annotations

import msgspec

from auctionactors.domain.events import AnyEvent, Event, event_type
from auctionactors.errors import CorruptionError
from auctionactors.store.base import NewEvent, StoredEvent

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)


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
