"""Bounds: the limits on everything a user can store (PROTOCOL.md, "Protocol 1.1", Bounds).

What is stored is replayed and rendered for every participant and operator forever, so it is
checked before it is stored: times in [2000-01-01, 2100-01-01), durations of 1 s to 30 days with
at most millisecond precision, free text of at most 2,000 characters that is not blank, and
lists of bounded length. A refusal is ``invalid`` and names the field in words.
"""

from __future__ import annotations

import unicodedata

from auctionactors.domain.terms import Month, Seconds, parse_month
from auctionactors.domain.timestamps import SECOND, Instant, seconds
from auctionactors.errors import DomainError

MIN_INSTANT: Instant = 946_684_800 * SECOND  # 2000-01-01T00:00:00Z, inclusive
MAX_INSTANT: Instant = 4_102_444_800 * SECOND  # 2100-01-01T00:00:00Z, exclusive
MIN_YEAR, MAX_YEAR = 2000, 2099

DAY_S = 86_400
MAX_DURATION_S = 30 * DAY_S
MAX_SOFT_CLOSE_S = DAY_S
MAX_TEXT = 2000
MAX_PRODUCTS = 20
MAX_SUPPLIERS = 100
# Far above any delivery, far below where a total price (amount x quantity) stops being a
# number Python will print (4,300 digits): a view must always render.
MAX_QUANTITY_MT = 10_000_000


# White space and the invisible: zero-width and other format characters, separators, controls.
_BLANK_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp", "Cc"})


def check_instant(t: Instant, field: str) -> None:
    """Refuse a time outside [2000-01-01, 2100-01-01) UTC."""
    if not MIN_INSTANT <= t < MAX_INSTANT:
        raise DomainError(
            "invalid", f"{field} must be from 2000-01-01T00:00:00Z to before 2100-01-01T00:00:00Z"
        )


def check_duration(value: Seconds, field: str, what: str, low_s: int, high_s: int) -> None:
    """Refuse a duration outside [low_s, high_s] seconds or finer than a millisecond."""
    span = f"between {_span(low_s)} and {_span(high_s)}"
    try:
        if isinstance(value, bool):
            raise ValueError("a boolean")
        micros = seconds(value)
    except ValueError:
        raise DomainError(
            "invalid", f"{field} ({what}) must be a number of seconds {span}"
        ) from None
    if not low_s * SECOND <= micros <= high_s * SECOND:
        raise DomainError("invalid", f"{field} ({what}) must be {span}")
    if micros % 1000:
        raise DomainError("invalid", f"{field} ({what}) may have at most 3 decimals (ms)")


def _span(n_s: int) -> str:
    if n_s == 0:
        return "0 s"
    if n_s % DAY_S == 0:
        days = n_s // DAY_S
        return f"{days} day{'s' if days > 1 else ''}"
    return f"{n_s} s"


def is_blank(text: str) -> bool:
    """True when nothing visible is left: only white space, zero-width and format characters,
    separators and controls (``"\\u200b"`` is blank)."""
    return all(ch.isspace() or unicodedata.category(ch) in _BLANK_CATEGORIES for ch in text)


def check_text(value: str, field: str) -> None:
    """Refuse free text that is blank or longer than 2,000 characters."""
    if len(value) > MAX_TEXT:
        raise DomainError("invalid", f"{field} must be at most {MAX_TEXT} characters")
    if is_blank(value):
        raise DomainError("invalid", f"{field} must not be empty")


def check_optional_text(value: str | None, field: str) -> None:
    """An optional text may be absent (null), but not blank when given."""
    if value is not None:
        check_text(value, field)


def check_count(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise DomainError("invalid", f"at most {limit} {what}")


def check_month(text: Month, field: str) -> None:
    """Refuse a month that is not ``YYYY-MM`` (ASCII digits) within 2000-01..2099-12."""
    try:
        year, _ = parse_month(text)
    except ValueError:
        raise DomainError("invalid", f"{field} must be a month written YYYY-MM") from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DomainError("invalid", f"{field} must be a month from 2000-01 to 2099-12")


def check_quantity(quantity: int, field: str) -> None:
    if quantity <= 0:
        raise DomainError("invalid", f"{field} must be greater than 0")
    if quantity > MAX_QUANTITY_MT:
        raise DomainError("invalid", f"{field} must be at most {MAX_QUANTITY_MT:,} MT")
