"""Instants as integer microseconds since the Unix epoch, UTC.

The domain never reads a clock: every instant is an input. Integers keep replay exact and cheap;
the protocol's RFC 3339 form (``2026-11-27T10:04:31.250000Z``) is made only at the edges.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from auctionactors.errors import DomainError

Instant = int
SECOND: int = 1_000_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The range `datetime` can show; anything stored beyond it (by an older version that did not
# bound times) is shown clamped to it, never an error.
_FIRST_SECOND = int((datetime(1, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds())
_LAST_SECOND = int((datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH).total_seconds())

# RFC 3339's date-time, strictly: ASCII digits, "T" (any case), up to 6 fraction digits, and an
# offset "Z" or "+hh:mm" (no week dates, no space for "T", no missing offset).
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def format_instant(t: Instant) -> str:
    """RFC 3339 UTC with microseconds and a ``Z`` suffix. Total: an instant outside the years
    1..9999 is shown as the nearest one inside (stored data must never make a view fail)."""
    whole, micros = divmod(t, SECOND)
    if whole < _FIRST_SECOND:
        whole, micros = _FIRST_SECOND, 0
    elif whole > _LAST_SECOND:
        whole, micros = _LAST_SECOND, SECOND - 1
    return f"{_format_second(whole)}.{micros:06d}Z"


@functools.lru_cache(maxsize=4096)
def _format_second(whole: int) -> str:
    """The date and time to the second: shared by every instant within it (views format the same
    few bid times over and over; strftime is most of a view's cost otherwise)."""
    return (_EPOCH + timedelta(seconds=whole)).replace(tzinfo=None).isoformat()


def parse_instant(text: str, field: str = "time") -> Instant:
    """Parse an RFC 3339 time with an explicit offset (``Z`` or ``+hh:mm``) into an instant."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise DomainError(
            "invalid",
            f"{field} must be an RFC 3339 time with an offset, e.g. 2026-11-27T10:00:00Z",
        )
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        raise DomainError("invalid", f"{field} is not a valid date and time") from None
    offset_s = 0
    if not zulu:
        if int(off_h) > 23 or int(off_m) > 59:
            raise DomainError("invalid", f"{field} has an invalid time zone offset")
        offset_s = (int(off_h) * 3600 + int(off_m) * 60) * (-1 if sign == "-" else 1)
    # Integer arithmetic on the local time: no datetime overflow near the years 1 and 9999.
    delta = local - datetime(1970, 1, 1)
    whole = delta.days * 86_400 + delta.seconds - offset_s
    micros = int((fraction or "0").ljust(6, "0"))
    return whole * SECOND + micros


def seconds(n: int | float) -> int:
    """A duration of ``n`` seconds in microseconds, exactly: a decimal ``n`` is read through its
    shortest decimal form, which is what the client wrote (0.1 s is 100000 µs, not 100000.000…1).
    ValueError if ``n`` is not finite or is finer than a microsecond."""
    if isinstance(n, int):
        return n * SECOND
    if not math.isfinite(n):
        raise ValueError(f"not a finite number of seconds: {n!r}")
    micros = Decimal(repr(n)).scaleb(6)
    if micros != micros.to_integral_value():
        raise ValueError(f"finer than a microsecond: {n!r}")
    return int(micros)
