"""Instants as integer microseconds since the Unix epoch, UTC.

The domain never reads a clock: every instant is an input. Integers keep replay exact and cheap;
the protocol's RFC 3339 form (``2026-11-27T10:04:31.250000Z``) is made only at the edges.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from auctionactors.errors import DomainError

Instant = int
SECOND: int = 1_000_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_instant(t: Instant) -> str:
    """RFC 3339 UTC with microseconds and a ``Z`` suffix."""
    whole, micros = divmod(t, SECOND)
    return f"{_format_second(whole)}.{micros:06d}Z"


@functools.lru_cache(maxsize=4096)
def _format_second(whole: int) -> str:
    """The date and time to the second: shared by every instant within it (views format the same
    few bid times over and over; strftime is most of a view's cost otherwise)."""
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_instant(text: str, field: str = "time") -> Instant:
    """Parse an RFC 3339 time with an explicit offset (``Z`` or ``+hh:mm``) into an instant."""
    try:
        dt = datetime.fromisoformat(text.replace("z", "Z"))
    except (TypeError, ValueError):
        raise DomainError("invalid", f"{field} must be an RFC 3339 time") from None
    if dt.tzinfo is None:
        raise DomainError("invalid", f"{field} must carry a time zone (e.g. a Z suffix)")
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND + delta.microseconds


def seconds(n: int) -> int:
    """A duration of ``n`` seconds in microseconds."""
    return n * SECOND
