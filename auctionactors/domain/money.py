"""Exact money: amounts are integer cents (USD per metric ton), never floats.

Clients send decimal strings ("2.25", "-1.75") or JSON numbers; both are parsed exactly through
`Decimal` (a strict string of a usual length in integers, to the same result), and anything
finer than a cent is refused rather than rounded. A string is written
strictly: ASCII digits, an optional leading ``-``, at most one ``.`` and two decimals (no
Arabic-Indic or full-width digits, "1_000", "+500", " 500 ", "5.", ".5" or "1e3", all of which
`Decimal` would take).
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation

from auctionactors.errors import DomainError

Cents = int

DEFAULT_TICK: Cents = 25
MAX_CENTS = 10**15
_CENT = Decimal("0.01")
_STRICT = re.compile(r"-?[0-9]+(?:\.[0-9]{1,2})?", re.ASCII)
_EXACT = Context(prec=40)  # holds any amount within range to the cent, so quantize never rounds
_SHORT = 24  # strict decimal strings up to this length are parsed in integers (`parse_amount`)


def parse_amount(value: str | int | float, field: str = "amount") -> Cents:
    """Parse a decimal amount in USD into cents; refuse what is not an exact number of cents."""
    if isinstance(value, bool):
        raise DomainError("invalid", f"{field} must be a decimal number")
    if isinstance(value, str):
        if _STRICT.fullmatch(value) is None:
            raise DomainError(
                "invalid",
                f"{field} must be a decimal number in ASCII digits with at most two decimals, "
                "e.g. 1234.50",
            )
        if len(value) <= _SHORT:  # the usual bid: in integers, exactly as the Decimal path
            negative = value[0] == "-"
            whole, _, frac = value[negative:].partition(".")
            cents = int(whole) * 100 + (int(frac) * (10 if len(frac) == 1 else 1) if frac else 0)
            if cents > MAX_CENTS:
                raise DomainError("invalid", f"{field} is out of range")
            return -cents if negative else cents
    try:
        dec = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
    except (InvalidOperation, ValueError):
        raise DomainError("invalid", f"{field} must be a decimal number") from None
    if not dec.is_finite():
        raise DomainError("invalid", f"{field} must be a decimal number")
    # Range first: arithmetic on "1e999999999" overflows, and on more digits than the default
    # context's 28 it rounds ("1.000...0001" would become 1.00).
    if dec.adjusted() > 14:
        raise DomainError("invalid", f"{field} is out of range")
    to_cent = dec.quantize(_CENT, context=_EXACT)
    if to_cent != dec:
        raise DomainError("invalid", f"{field} must have at most two decimals")
    cents = int(to_cent.scaleb(2, context=_EXACT))
    if abs(cents) > MAX_CENTS:
        raise DomainError("invalid", f"{field} is out of range")
    return cents


def format_amount(cents: Cents) -> str:
    """Cents as the protocol's decimal string with two decimals: 225 -> "2.25", -175 -> "-1.75"."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def check_tick(cents: Cents, tick: Cents, field: str = "amount") -> None:
    """Refuse an amount that is not an exact multiple of the auction's price tick."""
    if cents % tick != 0:
        raise DomainError("invalid", f"{field} must be a multiple of {format_amount(tick)}")
